"""Applying as Supabase's migrating role: `postgres`, no superuser, on a Supabase-like database."""

from __future__ import annotations

import subprocess
import sys

import psycopg
from psycopg.conninfo import conninfo_to_dict
import pytest

from arbedb import commands, platform
from revisions import REVISIONS

pytest_plugins = ["supabase_fixture"]


PLATFORM_ROLES = {"supabase_admin", "supabase_auth_admin", "supabase_storage_admin", "supabase_realtime_admin",
                  "supabase_replication_admin", "supabase_read_only_user", "dashboard_user", "pgbouncer",
                  "authenticator", "anon", "authenticated", "service_role"}


def test_the_fixture_is_supabase(supabase_dsn):
    """The facts of a hosted project the fixture must keep (docs/supabase.md lists them with their sources)."""
    with psycopg.connect(supabase_dsn) as conn:
        one = lambda q: conn.execute(q).fetchone()  # noqa: E731
        # postgres migrates, and is no superuser; supabase_admin is the bootstrap superuser.
        assert one("SELECT current_user, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls "
                   "FROM pg_roles WHERE rolname = current_user") == ("postgres", False, True, True, True, True)
        assert one("SELECT rolname, rolsuper FROM pg_roles WHERE oid = 10") == ("supabase_admin", True)
        assert one("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()") == ("postgres",)
        roles = {r for (r,) in conn.execute("SELECT rolname FROM pg_roles")}
        # verify knows the platform's roles as a set (the API roles are judged as the project's).
        assert PLATFORM_ROLES <= roles and PLATFORM_ROLES - {"anon", "authenticated", "service_role"} <= platform.ROLES
        assert one("SELECT rolcanlogin, rolbypassrls FROM pg_roles WHERE rolname = 'supabase_read_only_user'") \
            == (True, True)
        # postgres's memberships: the predefined roles, the API roles, the service admins.
        member_of = {r for (r,) in conn.execute(
            "SELECT b.rolname FROM pg_auth_members m JOIN pg_roles b ON b.oid = m.roleid "
            "WHERE m.member = 'postgres'::regrole")}
        assert {"pg_read_all_data", "pg_monitor", "pg_signal_backend", "anon", "authenticated", "service_role",
                "supabase_auth_admin", "supabase_storage_admin", "supabase_realtime_admin"} <= member_of
        # Default privileges in the platform's schemas, not only in public.
        schemas = {s for (s,) in conn.execute("SELECT defaclnamespace::regnamespace::text FROM pg_default_acl")}
        assert {"public", "auth", "extensions", "storage", "realtime", "graphql_public"} <= schemas
        assert one("SELECT setconfig FROM pg_db_role_setting WHERE setrole = 'postgres'::regrole "
                   "AND setdatabase = 0") == (['search_path="$user", public, extensions'],)
        # GoTrue's auth: users with RLS on and its columns, claim readers without SET search_path.
        assert one("SELECT relrowsecurity, pg_get_userbyid(relowner) FROM pg_class "
                   "WHERE oid = 'auth.users'::regclass") == (True, "supabase_auth_admin")
        assert one("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'auth' "
                   "AND table_name = 'users' AND column_name IN ('is_anonymous', 'confirmed_at', 'deleted_at')") == (3,)
        assert conn.execute("SELECT proname, proconfig, pg_get_userbyid(proowner) FROM pg_proc "
                            "WHERE pronamespace = 'auth'::regnamespace ORDER BY 1").fetchall() \
            == [(f, None, "supabase_auth_admin") for f in ("email", "jwt", "role", "uid")]
        # PostgREST's DDL watch and the extension hooks fire on our DDL too.
        assert {e for (e,) in conn.execute("SELECT evtname FROM pg_event_trigger")} >= {
            "pgrst_ddl_watch", "pgrst_drop_watch", "issue_pg_graphql_access", "issue_graphql_placeholder",
            "issue_pg_cron_access", "issue_pg_net_access"}
        # Whatever postgres creates in public is granted to the API roles by default.
        conn.execute("CREATE TABLE public.probe (id int)")
        assert one("SELECT has_table_privilege('anon', 'public.probe', 'SELECT, DELETE')") == (True,)


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


def test_supabase_originals_are_kept(supabase_applied_dsn, supabase_dsn):
    """The compatibility step finds GoTrue's functions and Supabase's roles and leaves them as they were."""
    def auth_objects(dsn):
        with psycopg.connect(dsn) as conn:
            return conn.execute("""
                SELECT p.proname, pg_get_userbyid(p.proowner), obj_description(p.oid, 'pg_proc'),
                       pg_get_functiondef(p.oid)
                FROM pg_proc p WHERE p.pronamespace = 'auth'::regnamespace
                UNION ALL
                SELECT r.rolname, r.rolinherit::text, shobj_description(r.oid, 'pg_authid'), r.rolbypassrls::text
                FROM pg_roles r WHERE r.rolname IN ('anon', 'authenticated', 'service_role') ORDER BY 1""").fetchall()

    untouched = auth_objects(supabase_dsn)
    assert [r[0] for r in untouched] == ["anon", "authenticated", "email", "jwt", "role", "service_role", "uid"]
    assert auth_objects(supabase_applied_dsn) == untouched


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


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "arbedb.cli", *args], cwd=cwd, capture_output=True, text=True)


def test_verify_passes_and_reports_the_platform_apart(supabase_applied_dsn, arbedb_project, scratch):
    """`arbedb verify` as postgres, every check (drift, and pgrls where installed): exit 0; what is
    Supabase's own (its schemas' default privileges, its roles' BYPASSRLS paths) is named apart."""
    from arbedb.verify import pgrls

    proc = _cli("verify", "--dsn", supabase_applied_dsn, "--scratch-dsn", scratch.admin_dsn, cwd=arbedb_project.root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = proc.stdout.splitlines()[-1]
    assert summary.startswith("arbedb verify: 0 error(s)") and "drift" in summary, summary
    assert "platform (not judged) default privileges in auth, extensions, graphql_public, realtime, storage" in summary
    if pgrls.executable():
        assert "pgrls" in summary and "supabase_read_only_user (pgrls:SEC016)" in summary
        assert "supabase_realtime_admin (pgrls:SEC029)" in summary


def test_verify_still_judges_a_role_that_is_not_the_platforms(supabase_applied_dsn, supabase_cluster,
                                                               arbedb_project):
    """The twin: the same RLS-bypass path (a login role that may become service_role) on a role
    Supabase does not have is the project's error."""
    from arbedb.verify import pgrls

    if pgrls.executable() is None:
        pytest.skip("pgrls is not installed (it is in the test extra)")
    dbname = conninfo_to_dict(supabase_applied_dsn)["dbname"]
    with supabase_cluster.connect("supabase_admin", dbname) as admin:
        admin.execute("CREATE ROLE reporting_app LOGIN")
        admin.execute("GRANT service_role TO reporting_app")
        try:
            proc = _cli("verify", "--dsn", supabase_applied_dsn, "--skip", "drift", cwd=arbedb_project.root)
        finally:
            admin.execute("DROP ROLE reporting_app")
    assert proc.returncode == 1
    assert [line for line in proc.stdout.splitlines() if line.startswith("reporting_app: pgrls:SEC029")]


def test_the_matrix_on_supabase_is_spec_section_5(supabase_applied_dsn):
    """Same permissions as on plain PostgreSQL, with Supabase's default privileges and INHERIT API roles."""
    from matrix_spec import differences

    from arbedb.matrix.probe import probe_matrix

    matrix = probe_matrix(supabase_applied_dsn)
    assert matrix.unclear() == [] and differences(matrix.allowed()) == []


def test_rls_test_passes_on_supabase(supabase_applied_dsn, arbedb_project):
    """`arbedb rls-test --examples 50` (database vs the reference model), as Supabase's postgres."""
    proc = _cli("rls-test", "--dsn", supabase_applied_dsn, "--examples", "50", cwd=arbedb_project.root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "50 worlds, database and model agree" in proc.stdout


# -- the Data API path to the credential functions (policies/70_data_api.sql) --------------------

def test_the_credential_flows_work_through_the_data_api_wrappers(supabase_applied_dsn):
    """What /rest/v1/rpc/<name> runs (PostgREST: `SELECT * FROM public.<name>(arg := …)` as the JWT's role)."""
    from arbedb.testing.impersonate import acting_as, user_claims
    from arbedb.testing.world import WorldBuilder

    with psycopg.connect(supabase_applied_dsn) as conn:
        w = WorldBuilder(conn)
        admin, invitee = w.user("a@example.com"), w.user("new@example.com")
        house = w.house("Acme", created_by=admin)
        agent, secret = w.row("agents", house), w.row("secrets", house)
        conn.commit()

        def rpc(user, sql, **args):
            with acting_as(conn, "authenticated", user_claims(user, "new@example.com"), keep=True) as cur:
                return cur.execute(sql, args).fetchall()

        [(token,)] = rpc(admin, "SELECT * FROM public.create_invite(house_id := %(h)s, email := %(e)s, role := %(r)s)",
                         h=house, e="new@example.com", r="member")
        [(h, name, role, _)] = rpc(invitee, "SELECT * FROM public.lookup_invite(token := %(t)s)", t=token)
        assert (h, name, role) == (house, "Acme", "member")
        [(membership,)] = rpc(invitee, "SELECT * FROM public.accept_invite(token := %(t)s)", t=token)
        assert conn.execute("SELECT user_id FROM public.members WHERE id = %s", (membership,)).fetchone() == (invitee,)
        [(key,)] = rpc(admin, "SELECT * FROM public.create_api_key(house_id := %(h)s, agent_id := %(a)s, "
                              "name := 'bot')", h=house, a=agent)
        assert key.startswith("arbe_")
        assert rpc(admin, "SELECT * FROM public.set_secret(secret_id := %(s)s, value := 'v')", s=secret) == [(None,)]
        # The rules stay in arbe's functions: a plain member is refused through the wrapper too.
        with pytest.raises(psycopg.Error, match="admin"):
            rpc(invitee, "SELECT * FROM public.create_api_key(house_id := %(h)s, agent_id := %(a)s, name := 'x')",
                h=house, a=agent)


@pytest.mark.parametrize("role", ["anon", "service_role"])
def test_no_one_else_may_call_the_wrappers(supabase_applied_dsn, role):
    from arbedb.testing.impersonate import acting_as
    from arbedb.verify.data_api import WRAPPED

    with psycopg.connect(supabase_applied_dsn) as conn:
        for name in WRAPPED:
            signature = conn.execute("SELECT pg_get_function_identity_arguments(%s::regproc)",
                                     (f"public.{name}",)).fetchone()[0]
            nulls = ", ".join("NULL" for _ in signature.split(","))
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match=f"permission denied for function {name}"):
                with acting_as(conn, role, {"role": role}) as cur:
                    cur.execute(f"SELECT * FROM public.{name}({nulls})")


@pytest.mark.parametrize("damage, code", [
    ("DROP FUNCTION public.lookup_invite(text)", "API001"),
    ("ALTER FUNCTION public.accept_invite(text) SECURITY DEFINER", "API002"),
    ("REVOKE EXECUTE ON FUNCTION public.set_secret(uuid, text) FROM authenticated", "API003"),
    ("GRANT EXECUTE ON FUNCTION public.create_invite(uuid, text, text) TO anon", "API004"),
    ("GRANT EXECUTE ON FUNCTION public.create_api_key(uuid, uuid, text) TO PUBLIC", "API004"),
])
def test_verify_checks_the_data_api_path(supabase_applied_dsn, arbedb_project, damage, code):
    from arbedb.verify import data_api

    with psycopg.connect(supabase_applied_dsn) as conn:
        assert data_api.checks(conn, arbedb_project) == []
        conn.execute(damage)
        found = data_api.checks(conn, arbedb_project)
    assert [f.code for f in found] and {f.code for f in found} == {code}, [f.line_text() for f in found]
