"""`arbedb verify`: the lint conventions on a live catalog, drift from the repository, pgrls, the command."""

from __future__ import annotations

import json

import psycopg
import pytest
from click.testing import CliRunner

from arbedb import commands
from arbedb.engine import catalog
from arbedb.cli import main
from arbedb.lint import lint
from arbedb.verify import conventions, drift, run_checks, verify

pytest_plugins = ["supabase_fixture"]


def _run(dsn: str, *statements: str) -> None:
    with psycopg.connect(dsn) as conn:
        for statement in statements:
            conn.execute(statement)


def _conventions(dsn: str, project) -> list:
    with psycopg.connect(dsn) as conn:
        conn.read_only = True
        return conventions.checks(conn, project)


# -- conventions ---------------------------------------------------------------------------------

def test_applied_project_meets_every_convention(arbedb_dsn, arbedb_project):
    assert [f.line_text() for f in _conventions(arbedb_dsn, arbedb_project)] == []


@pytest.mark.parametrize(("statement", "code", "obj"), [
    ("ALTER TABLE public.threads DISABLE ROW LEVEL SECURITY", "ARB002", "public.threads"),
    ("DROP INDEX public.agents_house_live_idx", "ARB004", "public.agents"),
    ("ALTER TABLE public.threads DROP CONSTRAINT threads_agent_same_house;"
     "DROP TRIGGER threads_inherit_house_id ON public.threads", "ARB006", "public.threads.agent_id"),
    ("ALTER FUNCTION arbe.house_role(uuid) RESET search_path", "ARB010", "arbe.house_role(uuid)"),
    # The old empty path, on a definer and on a trigger function: pg_temp is searched first.
    ("ALTER FUNCTION arbe.house_role(uuid) SET search_path = ''", "ARB010", "arbe.house_role(uuid)"),
    ("ALTER FUNCTION arbe.fill_created_by() SET search_path = ''", "ARB010", "arbe.fill_created_by()"),
    ("ALTER FUNCTION arbe.caller_claims() SET search_path = pg_temp, pg_catalog", "ARB010", "arbe.caller_claims()"),
    ("GRANT EXECUTE ON FUNCTION arbe.read_secret(uuid) TO anon", "ARB011", "arbe.read_secret(uuid)"),
    ("ALTER POLICY agents_select ON public.agents TO authenticated, anon", "ARB016", "policy agents_select on "
                                                                                    "public.agents"),
    ("CREATE POLICY agents_delete ON public.agents FOR DELETE TO authenticated USING (true)", "ARB015",
     "policy agents_delete on public.agents"),
    ("GRANT SELECT ON arbe_private.secret_values TO authenticated", "ARB021", "arbe_private.secret_values"),
    ("DROP TRIGGER agents_touch_updated_at ON public.agents", "ARB022", "public.agents"),
    ("GRANT EXECUTE ON FUNCTION arbe.assert_keeps_an_owner(uuid, uuid) TO authenticated", "ARB023",
     "arbe.assert_keeps_an_owner(uuid, uuid)"),
    # The subquery shapes' indexes (electric/shapes.toml): every index led by members.user_id, then
    # every one led by threads.house_id that threads.mine's move-in query could use.
    ("DROP INDEX public.members_caller_live_idx, public.members_user_idx, public.members_user_house_live_key",
     "ARB025", "threads.mine"),
    ("DROP INDEX public.threads_house_live_idx, public.threads_house_idx", "ARB025", "threads.mine:house_id"),
])
def test_a_broken_convention_is_reported_on_its_object(arbedb_dsn, arbedb_project, statement, code, obj):
    _run(arbedb_dsn, statement)
    found = [(f.code, f.object) for f in _conventions(arbedb_dsn, arbedb_project)]
    assert (code, obj) in found, found


def test_a_convention_broken_in_a_revision_is_found_by_lint_before_and_verify_after(project_copy, empty_dsn):
    commands.new(project_copy, "labels", up_sql=(
        "-- Electric: not synced.\nCREATE TABLE public.labels (id uuid PRIMARY KEY, name text);\n"),
        down_sql="DROP TABLE public.labels;\n")
    before = [f for f in lint(project_copy, engines=("arbedb",)).findings if "labels" in f.message]
    assert {f.code for f in before} >= {"ARB001", "ARB002", "ARB004"}
    assert all(f.path.endswith("_labels.up.sql") and f.line == 2 and f.fix for f in before)

    commands.apply(project_copy, empty_dsn)
    after = [f for f in _conventions(empty_dsn, project_copy) if "labels" in f.message]
    assert {f.code for f in after} == {f.code for f in before}
    assert {f.object for f in after} >= {"public.labels"}


# -- drift ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def repo_catalog(arbedb_cluster, arbedb_project):
    """What the repository creates, applied once on a scratch database of the test cluster."""
    return drift.repo_snapshot(arbedb_project, arbedb_cluster.admin_dsn)[0]


def _drift(dsn: str, repo: dict, project) -> list:
    with psycopg.connect(dsn) as conn:
        return drift.compare(repo, drift.normalise(catalog.snapshot(conn, detail=True), project))


def test_no_drift_on_a_database_the_repository_built(arbedb_dsn, arbedb_project, repo_catalog):
    assert [f.line_text() for f in _drift(arbedb_dsn, repo_catalog, arbedb_project)] == []


@pytest.mark.parametrize(("statements", "code", "expect"), [
    # functions
    (["CREATE OR REPLACE FUNCTION arbe.role_rank(role text) RETURNS integer LANGUAGE sql IMMUTABLE "
      "SET search_path = '' AS $$ SELECT 3 $$"], "DRF006", "function arbe.role_rank(role text) definition: repo says"),
    # policies
    (["ALTER POLICY agents_select ON public.agents USING (true)"], "DRF007",
     "policy public.agents agents_select using: repo says"),
    (["DROP POLICY agents_insert ON public.agents"], "DRF007", "policy public.agents agents_insert: repo says exists"),
    # triggers
    (["DROP TRIGGER agents_touch_updated_at ON public.agents"], "DRF008",
     "trigger public.agents agents_touch_updated_at: repo says exists"),
    (["ALTER TABLE public.agents DISABLE TRIGGER agents_touch_updated_at"], "DRF008",
     "trigger public.agents agents_touch_updated_at enabled: repo says 'O', database says 'D'"),
    # grants
    (["GRANT SELECT ON arbe_private.secret_values TO authenticated"], "DRF010",
     "grant table arbe_private.secret_values authenticated SELECT: repo says nothing"),
    (["REVOKE UPDATE (revoked_at) ON public.api_keys FROM authenticated"], "DRF010",
     "grant column public.api_keys.revoked_at authenticated UPDATE: repo says exists, database says missing"),
    (["GRANT EXECUTE ON FUNCTION arbe.read_secret(uuid) TO authenticated"], "DRF010",
     "grant function arbe.read_secret(secret_id uuid) authenticated EXECUTE: repo says nothing"),
    # publication
    (["ALTER PUBLICATION electric_publication_default DROP TABLE public.invites"], "DRF009",
     "publication electric_publication_default tables: repo says"),
    # columns
    (["ALTER TABLE public.agents ADD COLUMN nickname text"], "DRF003",
     "column public.agents nickname: repo says nothing"),
    (["ALTER TABLE public.agents ALTER COLUMN kind DROP NOT NULL"], "DRF003",
     "column public.agents kind not null: repo says True, database says False"),
    # tables, constraints, indexes
    (["ALTER TABLE public.agents REPLICA IDENTITY DEFAULT"], "DRF002",
     "relation public.agents replica identity: repo says 'f', database says 'd'"),
    (["ALTER TABLE public.threads DROP CONSTRAINT threads_agent_same_house"], "DRF004",
     "constraint public.threads threads_agent_same_house: repo says exists"),
    (["DROP INDEX public.agents_house_live_idx"], "DRF005", "index public.agents agents_house_live_idx: repo says"),
])
def test_each_kind_of_hand_change_is_one_line(arbedb_dsn, arbedb_project, repo_catalog, statements, code, expect):
    _run(arbedb_dsn, *statements)
    found = _drift(arbedb_dsn, repo_catalog, arbedb_project)
    assert [f for f in found if f.code == code and f.message.startswith(expect)], \
        "\n".join(f.line_text() for f in found)
    assert all("repo says" in f.message and "database says" in f.message and f.fix for f in found)


def test_drift_replays_the_databases_default_privileges(arbedb_cluster, arbedb_project, empty_dsn):
    """A Supabase-style default grant in the live database is expected in the scratch one too."""
    _run(empty_dsn, "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO service_role")
    commands.apply(arbedb_project, empty_dsn)
    with psycopg.connect(empty_dsn) as conn:
        conn.read_only = True
        assert [f.line_text() for f in drift.checks(conn, arbedb_project, arbedb_cluster.admin_dsn)] == []


def test_drift_on_a_throwaway_local_server(arbedb_dsn, arbedb_project):
    _run(arbedb_dsn, "ALTER POLICY agents_select ON public.agents USING (true)")
    with psycopg.connect(arbedb_dsn) as conn:
        conn.read_only = True
        found = drift.checks(conn, arbedb_project)
    assert [f.code for f in found if f.severity == "error"] == ["DRF007"]


# -- the whole verify, and the command -----------------------------------------------------------

def test_verify_on_the_applied_project_is_clean(arbedb_dsn, arbedb_project, arbedb_cluster):
    report = verify(arbedb_project, arbedb_dsn, scratch_dsn=arbedb_cluster.admin_dsn)
    assert [f.line_text() for f in report.findings] == []
    assert "conventions" in report.summary["checks"] and "drift" in report.summary["checks"]


def test_pgrls_findings_are_folded_in(arbedb_dsn, arbedb_project):
    from arbedb.verify import pgrls

    if pgrls.executable() is None:
        pytest.skip("pgrls is not installed")
    _run(arbedb_dsn, "ALTER POLICY threads_select ON public.threads TO PUBLIC USING (true)")
    with psycopg.connect(arbedb_dsn) as conn:
        found = run_checks(conn, arbedb_project, skip=("electric", "drift"))
    codes = {f.code for f in found}
    assert "pgrls:SEC003" in codes and "ARB016" in codes
    assert all(f.object for f in found if f.code.startswith("pgrls:"))


def test_verify_command(arbedb_dsn, arbedb_project, arbedb_cluster, monkeypatch):
    monkeypatch.chdir(arbedb_project.root)
    runner = CliRunner()
    args = ["verify", "--dsn", arbedb_dsn, "--scratch-dsn", arbedb_cluster.admin_dsn, "--skip", "pgrls"]
    clean = runner.invoke(main, args)
    assert clean.exit_code == 0, clean.output
    _run(arbedb_dsn, "ALTER TABLE public.threads DISABLE ROW LEVEL SECURITY")
    broken = runner.invoke(main, [*args, "--format", "json"])
    assert broken.exit_code == 1
    found = {(f["code"], f["object"]) for f in json.loads(broken.output)["findings"]}
    assert ("ARB002", "public.threads") in found
    assert ("DRF002", "relation public.threads row security") in found


def test_no_drift_on_a_supabase_shaped_database(request, arbedb_project):
    """Supabase's own objects (realtime publication, API-role defaults, schema public) are not drift."""
    request.getfixturevalue("supabase_cluster")  # a cluster of its own; see tests/supabase_fixture.py
    dsn = request.getfixturevalue("supabase_applied_dsn")
    with psycopg.connect(dsn) as conn:
        conn.read_only = True
        found = run_checks(conn, arbedb_project, skip=("electric", "pgrls"))
    assert [f.line_text() for f in found if f.severity == "error"] == []
