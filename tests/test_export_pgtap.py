"""`arbedb export pgtap`: pgTAP files that pass on the applied schema under Debian's
pg_prove, and go red when a policy is opened or a trigger dropped."""

from __future__ import annotations

import os
import shutil
import subprocess

import psycopg
import pytest
from click.testing import CliRunner
from psycopg.conninfo import conninfo_to_dict

from arbedb import commands
from arbedb.cli import main
from arbedb.errors import ArbedbError
from arbedb.pgtap import DEFAULT_FOLDER, export_pgtap
from arbedb.scaffold.table import new_table

PG_PROVE = shutil.which("pg_prove")

pytest_plugins = ["supabase_fixture"]


def _tree(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_same_repository_same_bytes(arbedb_project, tmp_path):
    first = export_pgtap(arbedb_project, tmp_path / "a")
    export_pgtap(arbedb_project, tmp_path / "b")
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
    names = [p.name for p in first.written]
    assert names[0] == "00_structure.sql" and "20_matrix_threads.sql" in names
    again = export_pgtap(arbedb_project, tmp_path / "a")  # regenerating over itself changes nothing
    assert again.assertions == first.assertions and _tree(tmp_path / "a") == _tree(tmp_path / "b")
    text = (tmp_path / "a" / "20_matrix_agents.sql").read_text()
    assert text.splitlines()[4:7] == ["BEGIN;", "CREATE EXTENSION IF NOT EXISTS pgtap;", text.splitlines()[6]]
    assert text.rstrip().endswith("SELECT * FROM finish();\nROLLBACK;")


def test_the_cli_writes_the_default_folder_and_nothing_when_a_file_cannot_be_written(project_copy):
    cwd = os.getcwd()
    os.chdir(project_copy.root)
    try:
        result = CliRunner().invoke(main, ["export", "pgtap"])
        assert result.exit_code == 0, result.output
        folder = project_copy.root / DEFAULT_FOLDER
        assert "assertions" in result.stdout and (folder / "00_structure.sql").exists()
        # The last target cannot be written (root ignores read-only modes: a folder in its place),
        # while the declarations changed: no other file may take the new text.
        (folder / "20_matrix_api_keys.sql").unlink()
        (folder / "20_matrix_api_keys.sql").mkdir()
        before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
        declarations = project_copy.root / "policies" / "permissions.toml"
        declarations.write_text(declarations.read_text().replace('name = "agent-{tag}"', 'name = "robot-{tag}"'))
        result = CliRunner().invoke(main, ["export", "pgtap"])
    finally:
        os.chdir(cwd)
    assert result.exit_code != 0
    assert len(result.stderr.strip().splitlines()) == 1 and "nothing was written" in result.stderr
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before
    assert b"robot-" not in b"".join(before.values())


USERS_OWN = {
    "my_test.sql": b"-- my own test\nSELECT plan(1);\n",
    # a user's file that merely quotes the export's first line: without its second line, not ours
    "my_notes.sql": b"-- arbedb pgTAP: row level security and privileges\n-- my notes\n",
    "README.md": b"my folder\n",
}


def _earlier_export(arbedb_project, folder):
    """An export, a file it no longer writes (as for a table since removed), and the user's own files."""
    export_pgtap(arbedb_project, folder)
    for gone in ("20_matrix_gone.sql", "30_world_9.sql"):
        (folder / gone).write_bytes((folder / "20_matrix_agents.sql").read_bytes())
    for name, data in USERS_OWN.items():
        (folder / name).write_bytes(data)


def test_a_re_export_removes_exactly_the_files_an_earlier_export_wrote(arbedb_project, tmp_path):
    folder = tmp_path / "tests"
    _earlier_export(arbedb_project, folder)
    written = export_pgtap(arbedb_project, folder).written
    assert not (folder / "20_matrix_gone.sql").exists() and not (folder / "30_world_9.sql").exists()
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.name in USERS_OWN} == USERS_OWN
    assert sorted(p.name for p in folder.iterdir()) == sorted([*USERS_OWN, *(p.name for p in written)])


def test_a_failed_re_export_removes_nothing(arbedb_project, tmp_path, monkeypatch):
    folder = tmp_path / "tests"
    _earlier_export(arbedb_project, folder)
    (folder / "00_structure.sql").write_text((folder / "00_structure.sql").read_text() + "-- older\n")
    before = _tree(folder)
    real_unlink = type(folder).unlink

    def failing(path, *args, **kwargs):  # the disk refuses the last removal, after every rename and one removal
        if path.name == "30_world_9.sql":
            raise PermissionError(13, "Permission denied", str(path))
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(type(folder), "unlink", failing)
    with pytest.raises(ArbedbError, match="nothing was written"):
        export_pgtap(arbedb_project, folder)
    monkeypatch.undo()
    assert _tree(folder) == before


def test_a_missing_declarations_file_is_one_line(project_copy, tmp_path):
    (project_copy.root / "policies" / "permissions.toml").unlink()
    with pytest.raises(ArbedbError, match="no permission declarations"):
        export_pgtap(project_copy, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# -- run by pg_prove ----------------------------------------------------------------------------

def _pg_prove(dsn: str, folder, pattern: str = "*.sql") -> subprocess.CompletedProcess:
    info = conninfo_to_dict(dsn)
    env = {**os.environ, **({"PGPASSWORD": info["password"]} if info.get("password") else {})}
    argv = [PG_PROVE, "-h", info.get("host", "localhost"), "-p", str(info.get("port", 5432)),
            "-U", info.get("user", "postgres"), "-d", info["dbname"], *sorted(map(str, folder.glob(pattern)))]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)


def require_pgtap(dsn: str) -> None:
    """Skip unless pg_prove is installed and this server offers the pgtap extension (Debian
    ships it for its own PostgreSQL 15, not for the bundled 16/18 builds)."""
    if PG_PROVE is None:
        pytest.skip("pg_prove is not installed (Debian: libtap-parser-sourcehandler-pgtap-perl)")
    with psycopg.connect(dsn) as conn:
        if conn.execute("SELECT FROM pg_available_extensions WHERE name = 'pgtap'").fetchone() is None:
            pytest.skip("this PostgreSQL has no pgTAP extension (Debian: postgresql-<major>-pgtap)")


@pytest.fixture
def prove(arbedb_project, tmp_path):
    """Export the project and run a database through pg_prove; skips where pgTAP is absent."""

    def run(dsn, project=arbedb_project):
        require_pgtap(dsn)
        out = tmp_path / "tests"
        export = export_pgtap(project, out)
        return export, _pg_prove(dsn, out)
    return run


def _failed(result) -> list[str]:
    return sorted(line.split('"', 2)[1] for line in result.stdout.splitlines() + result.stderr.splitlines()
                  if line.startswith("# Failed test") and '"' in line)


def test_the_export_passes_on_the_applied_schema(prove, arbedb_dsn):
    export, result = prove(arbedb_dsn)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "All tests successful." in result.stdout
    assert f"Files={len(export.written)}, Tests={export.assertions}," in result.stdout
    print(f"pgTAP export: {len(export.written)} files, {export.assertions} assertions; "
          + result.stdout.strip().splitlines()[-1])


def test_an_opened_select_policy_turns_the_suite_red(prove, arbedb_dsn):
    with psycopg.connect(arbedb_dsn) as conn:
        conn.execute("DROP POLICY agents_select ON public.agents")
        conn.execute("CREATE POLICY agents_select ON public.agents FOR SELECT TO authenticated USING (true)")
    _, result = prove(arbedb_dsn)
    assert result.returncode != 0
    assert _failed(result) == ["dead key may not select agents", "outsider may not select agents"]


def test_a_dropped_trigger_turns_the_suite_red(prove, arbedb_dsn):
    with psycopg.connect(arbedb_dsn) as conn:
        conn.execute("DROP TRIGGER houses_creator_becomes_owner ON public.houses")
    _, result = prove(arbedb_dsn)
    assert result.returncode != 0
    assert "owner may select houses" in _failed(result)


def test_user_tables_are_in_the_export(prove, project_copy, empty_dsn):
    new_table(project_copy, "labels", parent="agents")
    commands.apply(project_copy, empty_dsn)
    export, result = prove(empty_dsn, project_copy)
    assert "20_matrix_labels.sql" in [p.name for p in export.written]
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_structure_departures_turn_the_suite_red(prove, arbedb_dsn):
    with psycopg.connect(arbedb_dsn) as conn:
        conn.execute("ALTER TABLE public.agents NO FORCE ROW LEVEL SECURITY")
        conn.execute("ALTER POLICY threads_select ON public.threads TO authenticated, anon")
        conn.execute("GRANT EXECUTE ON FUNCTION arbe.resolve_api_key(text) TO authenticated")
    _, result = prove(arbedb_dsn)
    assert result.returncode != 0
    assert _failed(result) == ["authenticated may not execute arbe.resolve_api_key(text)",
                               "public.agents: row level security forced",
                               "public.threads: threads_select applies to authenticated"]


def test_the_export_passes_on_supabase_as_supabase_test_db_runs_it(prove, supabase_cluster, supabase_applied_dsn):
    """On the Supabase-built database, as `postgres` (not a superuser there): `supabase test db`
    creates pgTAP in `extensions` before the files run, which the superuser does here."""
    require_pgtap(supabase_applied_dsn)
    dbname = conninfo_to_dict(supabase_applied_dsn)["dbname"]
    with supabase_cluster.connect("supabase_admin", dbname) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pgtap WITH SCHEMA extensions")
    export, result = prove(supabase_applied_dsn)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert f"Tests={export.assertions}," in result.stdout


def test_frozen_worlds_are_the_same_per_seed_pass_and_catch_an_opened_policy(prove, arbedb_project, arbedb_dsn,
                                                                              tmp_path):
    require_pgtap(arbedb_dsn)
    first = export_pgtap(arbedb_project, tmp_path / "a", worlds=2, seed=3, dsn=arbedb_dsn)
    export_pgtap(arbedb_project, tmp_path / "b", worlds=2, seed=3, dsn=arbedb_dsn)
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
    worlds = [p for p in first.written if p.name.startswith("30_world_")]
    assert [p.name for p in worlds] == ["30_world_001.sql", "30_world_002.sql"]
    passed = _pg_prove(arbedb_dsn, tmp_path / "a")
    assert passed.returncode == 0, passed.stdout[-3000:] + passed.stderr[-2000:]
    with psycopg.connect(arbedb_dsn) as conn:
        conn.execute("DROP POLICY agents_select ON public.agents")
        conn.execute("CREATE POLICY agents_select ON public.agents FOR SELECT TO authenticated USING (true)")
    red = _pg_prove(arbedb_dsn, tmp_path / "a", "30_world_*.sql")  # the worlds alone catch it
    assert red.returncode != 0
    assert any(" agents" in name for name in _failed(red)), red.stdout[-3000:]
