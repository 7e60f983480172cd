"""verify runs the platform's own checkers: plpgsql_check (where the server has it), Supabase's
advisors (where the CLI is on PATH), pgrls; a checker that cannot run says so in one line."""

from __future__ import annotations

import os

import psycopg
import pytest

from arbedb.reporting import render
from arbedb.verify import NotRun, advisors, pgrls, plpgsql_check, verify


def _available(dsn: str) -> bool:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'plpgsql_check'").fetchone() is not None


def _plpgsql_check(dsn: str, project) -> list:
    with psycopg.connect(dsn) as conn:
        conn.read_only = True
        try:
            return plpgsql_check.checks(conn, project)
        finally:
            conn.rollback()


@pytest.fixture
def checkable(arbedb_dsn):
    if not _available(arbedb_dsn):
        pytest.skip("plpgsql_check is not installed for this server (Debian: postgresql-<major>-plpgsql-check)")
    return arbedb_dsn


def test_plpgsql_check_finds_nothing_of_the_projects_and_leaves_no_extension(checkable, arbedb_project):
    found = _plpgsql_check(checkable, arbedb_project)
    assert [f.line_text() for f in found if f.severity != "platform"] == []
    with psycopg.connect(checkable) as conn:  # created in a transaction verify rolled back
        assert conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'plpgsql_check'").fetchone() is None


def test_plpgsql_check_reports_errors_and_performance_apart(checkable, arbedb_project):
    with psycopg.connect(checkable) as conn:
        conn.execute("""CREATE FUNCTION arbe.broken() RETURNS integer LANGUAGE plpgsql AS $$
            BEGIN RETURN (SELECT h.no_such_column FROM public.houses AS h LIMIT 1); END $$""")
        conn.execute("""CREATE FUNCTION arbe.slow(x integer) RETURNS bigint LANGUAGE plpgsql AS $$
            DECLARE n bigint := x; BEGIN RETURN n; END $$""")
        conn.execute("""CREATE FUNCTION arbe.fine(x bigint) RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $$
            BEGIN RETURN x; END $$""")
    found = {(f.object, f.code, f.severity) for f in _plpgsql_check(checkable, arbedb_project)}
    assert ("arbe.broken()", "plpgsql_check:error", "error") in found, found
    assert ("arbe.slow(integer)", "plpgsql_check:performance", "warning") in found, found
    assert not any(obj.startswith("arbe.fine") for obj, _, _ in found)


def test_a_broken_trigger_function_is_checked_against_its_relation(checkable, arbedb_project):
    with psycopg.connect(checkable) as conn:
        conn.execute("""CREATE FUNCTION arbe.bad_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN NEW.no_such_column := 1; RETURN NEW; END $$""")
        conn.execute("CREATE TRIGGER bad BEFORE INSERT ON public.agents FOR EACH ROW EXECUTE FUNCTION arbe.bad_trigger()")
    found = [f for f in _plpgsql_check(checkable, arbedb_project) if f.object.startswith("arbe.bad_trigger")]
    assert [(f.object, f.severity) for f in found] == [("arbe.bad_trigger() on agents", "error")]


def test_a_role_that_may_not_create_the_extension_is_told_so(checkable, arbedb_project):
    with psycopg.connect(checkable, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS verify_reader")
        conn.execute("CREATE ROLE verify_reader LOGIN")
    try:
        reader = psycopg.conninfo.make_conninfo(checkable, user="verify_reader")
        with pytest.raises(NotRun, match="may not CREATE EXTENSION"):
            _plpgsql_check(reader, arbedb_project)
    finally:
        with psycopg.connect(checkable, autocommit=True) as conn:
            conn.execute("DROP ROLE verify_reader")


def test_a_server_without_plpgsql_check_says_the_check_did_not_run(arbedb_dsn, arbedb_project, monkeypatch):
    monkeypatch.setattr(plpgsql_check, "EXTENSION", "plpgsql_check_not_here")
    report = verify(arbedb_project, arbedb_dsn, skip=("drift", "electric", "advisors"))
    assert "plpgsql_check" in report.not_run and "postgresql-<major>-plpgsql-check" in report.not_run["plpgsql_check"]
    lines = [line for line in render(report, "text").splitlines() if "did not run" in line]
    assert lines == ["arbedb verify: plpgsql_check did not run: " + report.not_run["plpgsql_check"]]
    assert "plpgsql_check" not in report.summary["checks"] and "pgrls" in report.summary["checks"]
    assert "::notice title=plpgsql_check::plpgsql_check did not run" in render(report, "github")


def test_missing_pgrls_is_said_not_silent(arbedb_dsn, arbedb_project, monkeypatch):
    monkeypatch.setattr(pgrls, "executable", lambda: None)
    report = verify(arbedb_project, arbedb_dsn, skip=("drift", "electric", "advisors", "plpgsql_check"))
    assert list(report.not_run) == ["pgrls"] and "pgrls" not in report.summary["checks"]
    assert "pip install pgrls" in report.not_run["pgrls"]


# -- Supabase's advisors ----------------------------------------------------------------------------

@pytest.fixture
def cli_on_path(monkeypatch):
    from supabase_cli import supabase_cli

    monkeypatch.setenv("PATH", f"{supabase_cli().parent}{os.pathsep}{os.environ['PATH']}")
    assert advisors.executable()


def _advisors(dsn: str, project) -> list:
    with psycopg.connect(dsn) as conn:
        conn.read_only = True
        return advisors.checks(conn, project)


def test_advisors_find_nothing_of_the_projects_on_the_applied_project(cli_on_path, arbedb_dsn, arbedb_project):
    assert [f.line_text() for f in _advisors(arbedb_dsn, arbedb_project) if f.severity != "platform"] == []


def test_an_advisor_error_is_the_projects_error(cli_on_path, arbedb_dsn, arbedb_project):
    with psycopg.connect(arbedb_dsn) as conn:
        conn.execute("CREATE TABLE public.exposed (id uuid PRIMARY KEY)")
        conn.execute("GRANT SELECT ON public.exposed TO anon")
    found = {(f.code, f.object, f.severity) for f in _advisors(arbedb_dsn, arbedb_project)}
    assert ("supabase:rls_disabled_in_public", "public.exposed", "error") in found, found


def test_advisors_without_the_cli_say_so(arbedb_project, arbedb_dsn, monkeypatch):
    monkeypatch.setattr(advisors, "executable", lambda: None)
    with pytest.raises(NotRun, match="Supabase CLI is not on PATH"):
        _advisors(arbedb_dsn, arbedb_project)


def test_the_cli_url_keeps_tls_for_a_remote_server():
    assert advisors.db_url("host=db.example.org dbname=postgres user=postgres password=p@ss").endswith(
        "@db.example.org:5432/postgres?sslmode=require")
    assert "p%40ss@" in advisors.db_url("host=db.example.org dbname=postgres user=postgres password=p@ss")
    assert advisors.db_url("host=127.0.0.1 port=5433 dbname=x").endswith(":5433/x?sslmode=disable")
    assert advisors.db_url("host=h dbname=x sslmode=verify-full").endswith("sslmode=verify-full")
