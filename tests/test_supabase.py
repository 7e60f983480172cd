"""Applying as Supabase's migrating role: `postgres`, no superuser, on a Supabase-like database."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest

from arbedb import commands
from revisions import REVISIONS

pytest_plugins = ["supabase_fixture"]


def test_the_fixture_is_supabase_shaped(supabase_dsn):
    with psycopg.connect(supabase_dsn) as conn:
        me = conn.execute("SELECT current_user, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls "
                          "FROM pg_roles WHERE rolname = current_user").fetchone()
        assert me == ("postgres", False, True, True, True, True)
        owner = conn.execute("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'auth.users'::regclass")
        assert owner.fetchone() == ("supabase_auth_admin",)
        # Whatever postgres creates in public is granted to the API roles by default.
        conn.execute("CREATE TABLE public.probe (id int)")
        assert conn.execute("SELECT has_table_privilege('anon', 'public.probe', 'SELECT, DELETE')").fetchone() == (True,)


def test_apply_as_postgres_works_and_says_what_it_skipped(supabase_dsn, supabase_cluster, arbedb_project):
    result = commands.apply(arbedb_project, supabase_dsn)
    assert [s.split(":")[0] for s in result.steps] == [f"upgrade {r}" for r in REVISIONS]
    with psycopg.connect(supabase_dsn) as conn:
        electric = conn.execute("SELECT count(*) FROM pg_roles WHERE rolname = 'electric'").fetchone()[0]
    if supabase_cluster.major == 15:
        # CREATEROLE cannot make a REPLICATION role on 15: one warning, with what to do instead.
        assert len(result.notices) == 1 and electric == 0
        assert result.notices[0].startswith("electric: role electric skipped: postgres may not create")
        assert "connect Electric as the postgres role over the direct (not pooled) connection" in result.notices[0]
    else:
        assert electric == 1
        assert not [n for n in result.notices if n.startswith("electric:")]


def test_the_cli_prints_the_skip_as_one_warning_line(supabase_dsn, supabase_cluster, arbedb_project):
    proc = subprocess.run([sys.executable, "-m", "arbedb.cli", "apply", "--dsn", supabase_dsn],
                          cwd=arbedb_project.root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("arbedb: warning:")]
    if supabase_cluster.major == 15:
        assert len(warnings) == 1
        assert warnings[0].startswith("arbedb: warning: electric: role electric skipped: postgres may not create")
    assert not [w for w in warnings if w.startswith("arbedb: warning: electric:") and "skipped" not in w]


def test_no_warning_but_the_electric_skip(supabase_dsn, supabase_cluster, arbedb_project, request):
    notices = commands.apply(arbedb_project, supabase_dsn).notices
    assert all(n.startswith("electric: role electric skipped:") for n in notices), notices


def test_supabase_originals_are_kept(supabase_applied_dsn):
    with psycopg.connect(supabase_applied_dsn) as conn:
        owners = conn.execute("""
            SELECT p.proname, pg_get_userbyid(p.proowner), obj_description(p.oid, 'pg_proc')
            FROM pg_proc p WHERE p.pronamespace = 'auth'::regnamespace ORDER BY 1""").fetchall()
        assert owners == [(f, "supabase_auth_admin", None) for f in ("email", "jwt", "role", "uid")]
        comments = conn.execute("SELECT count(*) FROM pg_shdescription d JOIN pg_roles r ON r.oid = d.objoid "
                                "WHERE r.rolname IN ('anon', 'authenticated', 'service_role')").fetchone()
        assert comments == (0,)


def test_default_privileges_are_taken_back(supabase_applied_dsn):
    """Supabase grants anon and authenticated ALL on every new public table; the applied
    schema leaves anon nothing and authenticated no DELETE (and the twin: what the matrix allows)."""
    with psycopg.connect(supabase_applied_dsn) as conn:
        rows = conn.execute("""
            SELECT c.relname, has_table_privilege('anon', c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE'),
                   has_table_privilege('authenticated', c.oid, 'DELETE, TRUNCATE'),
                   has_table_privilege('authenticated', c.oid, 'SELECT')
            FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'""").fetchall()
    assert rows and all(not anon and not delete and select for _, anon, delete, select in rows), rows


def test_apply_again_has_nothing_to_do(supabase_applied_dsn, arbedb_project):
    again = commands.apply(arbedb_project, supabase_applied_dsn)
    assert (again.steps, again.declarative) == ([], [])


@pytest.fixture
def scratch(arbedb_cluster, arbedb_template):
    """The test server, for drift's scratch database. The migrated template comes first: drift creates the
    roles the live database's default privileges name where missing, as plain NOLOGIN roles, and the
    compatibility step would then find a service_role without BYPASSRLS."""
    return arbedb_cluster


def _verify(project, dsn, cluster, skip):
    from arbedb.verify import verify

    return verify(project, dsn, skip=skip, scratch_dsn=cluster.admin_dsn).findings


def test_verify_conventions_and_drift_pass(supabase_applied_dsn, arbedb_project, scratch):
    """The lint rules on the live catalog, and no drift from the repository applied to plain PostgreSQL."""
    findings = _verify(arbedb_project, supabase_applied_dsn, scratch, ("electric", "pgrls"))
    assert [f.line_text() for f in findings if f.severity == "error"] == []


# Plan-dependent (seen on 15, not on 18), hence not strict.
def test_verify_electric_passes(supabase_applied_dsn, arbedb_project, scratch, supabase_cluster):
    findings = _verify(arbedb_project, supabase_applied_dsn, scratch, ("conventions", "drift", "pgrls"))
    assert [f.line_text() for f in findings if f.severity == "error"] == []
    if supabase_cluster.major == 15:
        # The missing electric role is a warning that says what to do on Supabase.
        assert [(f.code, f.severity) for f in findings] == [("ELE010", "warning")]
        assert "connect Electric as the postgres role" in findings[0].fix


def test_verify_pgrls_passes(supabase_applied_dsn, arbedb_project, scratch):
    findings = _verify(arbedb_project, supabase_applied_dsn, scratch, ("electric", "conventions", "drift"))
    assert [f.line_text() for f in findings if f.severity == "error"] == []


def test_the_matrix_on_supabase_is_spec_section_5(supabase_applied_dsn):
    """Same permissions as on plain PostgreSQL, with Supabase's default privileges and INHERIT API roles."""
    from matrix_spec import differences

    from arbedb.matrix.probe import probe_matrix

    matrix = probe_matrix(supabase_applied_dsn)
    assert matrix.unclear() == [] and differences(matrix.allowed()) == []


def test_rls_property_holds_on_supabase(supabase_applied_dsn):
    """`arbedb rls-test`'s property (database vs the reference model of SPEC §5), as Supabase's postgres."""
    from arbedb.rls.checks import run

    run(supabase_applied_dsn, examples=15, seed_value=7)
