"""`arbedb export supabase`: Supabase CLI migrations that build what `arbedb apply` builds."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from datetime import datetime

import psycopg
import pytest
from conftest import assert_same_catalog, snapshot
from supabase_cli import push

from arbedb import commands
from arbedb.errors import ArbedbError
from arbedb.export import export_supabase
from revisions import NEXT, STEMS

pytest_plugins = ["supabase_fixture"]

NOW = datetime(2026, 11, 29, 12, 0, 0)
NAME = re.compile(r"^\d{14}_[a-z0-9_]+\.sql$")


@pytest.fixture
def out(tmp_path):
    """The migration folder; beside the project copy (which lives in tmp_path), never inside policies/ etc."""
    return tmp_path / "supabase" / "migrations"


def names(result):
    return [p.name for p in result.written]


def test_files_are_supabase_migrations_in_apply_order(arbedb_project, out):
    result = export_supabase(arbedb_project, out, now=NOW)
    revisions = [f"2026112912{i // 60:02d}{i % 60:02d}_arbedb_{stem}.sql" for i, stem in enumerate(STEMS)]
    declarative = f"2026112912{len(STEMS) // 60:02d}{len(STEMS) % 60:02d}_arbedb_declarative_{names(result)[-1][-12:-4]}.sql"
    assert names(result) == revisions + [declarative]
    assert all(NAME.match(n) for n in names(result))
    assert sorted(p.name for p in out.iterdir()) == names(result)


def test_pushed_export_is_the_catalog_arbedb_apply_builds(arbedb_project, supabase_cluster, supabase_push, out):
    """The real `supabase db push` of the export, as postgres on the Supabase cluster: the catalog
    `arbedb apply` builds; exporting and pushing again does nothing; `arbedb status` knows what ran."""
    export_supabase(arbedb_project, out, now=NOW)
    log = supabase_cluster.server.log_file
    with supabase_cluster.database() as pushed, supabase_cluster.database() as applied:
        seen = log.stat().st_size
        assert supabase_push(pushed, out) == sorted(p.name for p in out.iterdir())
        # The CLI sends each file as one extended-protocol pipeline: SET LOCAL would warn there.
        with open(log) as server_log:
            server_log.seek(seen)
            assert _warnings(server_log.read()) == []
        commands.apply(arbedb_project, applied)
        assert_same_catalog(snapshot(applied), snapshot(pushed))

        assert export_supabase(arbedb_project, out).written == []
        again = push(pushed, out)
        assert again.returncode == 0 and "Remote database is up to date" in again.stdout + again.stderr

        st = commands.status(arbedb_project, pushed)
        assert (st.current, st.pending, st.declarative.lines()) == (st.heads, [], [])
        assert st.drift.startswith("none: the catalog is as the last apply"), st.drift
        # arbedb's bookkeeping came along: the pushed database reads as applied.
        nothing = commands.apply(arbedb_project, pushed)
        assert (nothing.steps, nothing.declarative) == ([], [])


def _warnings(text: str) -> list[str]:
    """The server's warnings psql printed, but the documented Electric one (PostgreSQL 15)."""
    return [line for line in text.splitlines() if "WARNING" in line and "electric: role electric skipped" not in line]


def test_files_run_cleanly_under_psql_single_transaction(arbedb_project, supabase_cluster, out):
    """No BEGIN/COMMIT of their own: `psql -1 -f` wraps each file without a transaction warning."""
    psql = shutil.which("psql")
    if psql is None:
        pytest.skip("psql is not installed")
    export_supabase(arbedb_project, out, now=NOW)
    assert not [p for p in out.iterdir() if re.search(r"^\s*(BEGIN|COMMIT)\s*;", p.read_text(), re.M)]
    with supabase_cluster.database() as dsn:
        for path in sorted(out.iterdir()):
            proc = subprocess.run([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-1", "-f", str(path), dsn],
                                  capture_output=True, text=True)
            assert proc.returncode == 0, proc.stderr
            assert "transaction" not in proc.stderr and _warnings(proc.stderr) == [], proc.stderr
        assert commands.status(arbedb_project, dsn).drift.startswith("none:")


def test_a_failing_file_leaves_nothing_under_supabase_db_push(project_copy, supabase_cluster, supabase_push, out):
    """The CLI runs each file and its history row as one implicit transaction: a statement failing
    late in the declarative file undoes the whole file (lock, bookkeeping, earlier statements)."""
    export_supabase(project_copy, out, now=NOW)
    with supabase_cluster.database() as dsn:
        supabase_push(dsn, out)
        (project_copy.root / "triggers" / "99_probe.sql").write_text(
            "CREATE FUNCTION public.probe_kept() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;\n"
            "SELECT 1 / 0;\n")
        export_supabase(project_copy, out, now=NOW)
        with psycopg.connect(dsn) as conn:
            before = conn.execute("SELECT count(*), max(applied_at) FROM arbedb.declarative_state").fetchone()
        failed = push(dsn, out)
        assert failed.returncode != 0 and "division by zero" in failed.stdout + failed.stderr
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT to_regprocedure('public.probe_kept()')").fetchone() == (None,)
            assert conn.execute("SELECT count(*), max(applied_at) FROM arbedb.declarative_state").fetchone() == before
        assert commands.status(project_copy, dsn).declarative.lines()  # the change is still pending


def test_export_again_writes_nothing(arbedb_project, out):
    export_supabase(arbedb_project, out, now=NOW)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    again = export_supabase(arbedb_project, out, now=datetime(2027, 1, 1))
    assert again.written == [] and len(again.kept) == len(STEMS) + 1
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_changes_are_appended_never_edited_and_push_incrementally(project_copy, supabase_cluster, supabase_push, out):
    first = export_supabase(project_copy, out, now=NOW)
    old = {p.name: p.read_bytes() for p in out.iterdir()}
    # Both databases follow the same history: each step applied (arbedb apply) and pushed (supabase db push).
    with supabase_cluster.database() as pushed, supabase_cluster.database() as applied:
        supabase_push(pushed, out)
        commands.apply(project_copy, applied)

        # A changed declarative file: one new migration with the whole layer.
        probe = project_copy.root / "policies" / "99_probe.sql"
        probe.write_text("CREATE OR REPLACE FUNCTION arbe.probe() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;\n")
        second = export_supabase(project_copy, out, now=NOW)
        assert [n[15:33] for n in names(second)] == ["arbedb_declarative"]
        assert names(second)[0] > names(first)[-1]
        assert supabase_push(pushed, out) == names(second)
        commands.apply(project_copy, applied)

        # A new revision: the revision, then the declarative layer again after it.
        commands.new(project_copy, "add_probe_table",
                     up_sql="CREATE TABLE arbe.probe_rows (id int PRIMARY KEY);\n",
                     down_sql="DROP TABLE arbe.probe_rows;\n")
        third = export_supabase(project_copy, out, now=NOW)
        assert [n[15:] for n in names(third)][0] == f"arbedb_{NEXT}_add_probe_table.sql"
        assert "arbedb_declarative" in names(third)[1]
        assert {n: b for n, b in ((p.name, p.read_bytes()) for p in out.iterdir()) if n in old} == old

        assert supabase_push(pushed, out) == names(third)
        commands.apply(project_copy, applied)
        assert_same_catalog(snapshot(applied), snapshot(pushed))


def test_new_files_come_after_the_folder_latest_migration(arbedb_project, out):
    out.mkdir(parents=True)
    (out / "20300101000000_someone_elses.sql").write_text("SELECT 1;\n")
    result = export_supabase(arbedb_project, out, now=NOW)
    assert [n[:14] for n in names(result)] == [f"203001010000{i:02d}" for i in range(1, len(STEMS) + 2)]


def test_a_revision_changed_after_export_is_refused_and_nothing_is_written(project_copy, out):
    export_supabase(project_copy, out, now=NOW)
    before = sorted(p.name for p in out.iterdir())
    up = project_copy.root / "migrations" / "versions" / "0002_schema_v1.up.sql"
    up.write_text(up.read_text() + "\nCREATE TABLE public.sneaky (id int);\n")
    (project_copy.root / "policies" / "99_probe.sql").write_text("SELECT 1;\n")
    with pytest.raises(ArbedbError, match="revision 0002 changed since it was exported"):
        export_supabase(project_copy, out, now=NOW)
    assert sorted(p.name for p in out.iterdir()) == before

    proc = subprocess.run([sys.executable, "-m", "arbedb.cli", "export", "supabase", str(out)],
                          cwd=project_copy.root, capture_output=True, text=True)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("arbedb: error: ")
    assert sorted(p.name for p in out.iterdir()) == before


def test_cli_reports_what_it_wrote(arbedb_project, out):
    proc = subprocess.run([sys.executable, "-m", "arbedb.cli", "export", "supabase", str(out)],
                          cwd=arbedb_project.root, capture_output=True, text=True, check=True)
    assert proc.stdout.count("wrote ") == len(STEMS) + 1 and f"{len(STEMS) + 1} new, 0 already exported" in proc.stdout
