"""electric/20_role.sql: the role Electric connects as, and what apply says when it cannot make it."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import os
import subprocess
import sys
from itertools import count

import psycopg
import pytest

from arbedb import commands
from arbedb.electric import publication as electric
from arbedb.electric.publication import PASSWORD_ENV
from arbedb.electric.shapes import load_shapes
from arbedb.verify import electric as electric_checks

ROLE_SQL = "electric/20_role.sql"
_names = count()


def _scratch_role_name() -> str:
    return f"electric_t_{os.getpid()}_{next(_names)}"


@pytest.fixture
def scratch_role(arbedb_cluster):
    """A role name no database uses yet (roles are cluster-wide); dropped with all it holds afterwards."""
    name = _scratch_role_name()
    yield name
    with psycopg.connect(arbedb_cluster.admin_dsn, autocommit=True) as conn:
        databases = [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datallowconn")]
        if conn.execute("SELECT FROM pg_roles WHERE rolname = %s", (name,)).fetchone() is None:
            return
    for db in databases:
        with psycopg.connect(arbedb_cluster.dsn_for(db), autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{name}"')
    with psycopg.connect(arbedb_cluster.admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP ROLE "{name}"')


def with_role(project, role: str):
    return dataclasses.replace(project, extra={**project.extra, "electric_role": role})


def test_electric_role_can_replicate_and_read_the_synced_tables_only(arbedb_conn, arbedb_project):
    attrs = arbedb_conn.execute("SELECT rolcanlogin, rolreplication, rolbypassrls, rolsuper, rolcreaterole "
                                "FROM pg_roles WHERE rolname = 'electric'").fetchone()
    assert attrs == (True, True, True, False, False)
    synced = load_shapes(arbedb_project).qualified_names
    rows = arbedb_conn.execute("""
        SELECT n.nspname || '.' || c.relname, has_table_privilege('electric', c.oid, 'SELECT'),
               has_table_privilege('electric', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('public', 'arbe', 'arbe_private') AND c.relkind = 'r'""").fetchall()
    assert {name for name, select, _ in rows if select} == synced
    assert not [name for name, _, writes in rows if writes]
    assert arbedb_conn.execute("SELECT has_schema_privilege('electric', 'arbe_private', 'USAGE')").fetchone() == (False,)


def test_apply_takes_back_what_was_granted_to_electric_by_hand(arbedb_conn, arbedb_dsn, arbedb_project):
    arbedb_conn.execute("GRANT SELECT ON arbe_private.secret_values TO electric")
    arbedb_conn.execute("GRANT INSERT ON public.agents TO electric")
    arbedb_conn.execute("GRANT USAGE ON SCHEMA arbe_private TO electric")
    arbedb_conn.commit()
    assert {(f.code, f.object) for f in electric_checks.checks(arbedb_conn, arbedb_project)} == {
        ("ELE013", "arbe_private.secret_values"), ("ELE013", "public.agents"), ("ELE013", "schema arbe_private")}
    arbedb_conn.rollback()
    commands.apply(arbedb_project, arbedb_dsn, redeclare=True)
    assert electric_checks.checks(arbedb_conn, arbedb_project) == []


def _scram_matches(verifier: str, password: str) -> bool:
    """Check ``password`` against a SCRAM-SHA-256 verifier as the server would (RFC 5802)."""
    mechanism, rest = verifier.split("$", 1)
    iterations, salt = rest.split("$", 1)[0].split(":")
    stored_key = rest.split("$", 1)[1].split(":")[0]
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    return mechanism == "SCRAM-SHA-256" and hashlib.sha256(client_key).digest() == base64.b64decode(stored_key)


def test_password_comes_from_the_environment_as_a_verifier(arbedb_dsn, arbedb_project, scratch_role, monkeypatch):
    project = with_role(arbedb_project, scratch_role)
    monkeypatch.setenv(PASSWORD_ENV, "correct horse battery staple")
    commands.apply(project, arbedb_dsn, redeclare=True)
    with psycopg.connect(arbedb_dsn) as conn:
        verifier = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (scratch_role,)).fetchone()[0]
        assert _scram_matches(verifier, "correct horse battery staple")
        assert not _scram_matches(verifier, "wrong")
        assert electric_checks.checks(conn, project) == []


def _supabase_like_role(conn, attributes: str) -> str:
    """A migrating role like Supabase's postgres: not a superuser, CREATEROLE plus ``attributes``."""
    name = _scratch_role_name()
    conn.execute(f'CREATE ROLE "{name}" NOSUPERUSER CREATEROLE {attributes}')
    return name


@pytest.mark.parametrize("attributes", ["REPLICATION BYPASSRLS", "NOREPLICATION NOBYPASSRLS"])
def test_role_sql_warns_in_one_line_where_the_applier_may_not_create_it(
        arbedb_cluster, arbedb_conn, arbedb_project, scratch_role, attributes):
    """Supabase on PostgreSQL 15: CREATEROLE cannot make a REPLICATION role; 16+ can when it has them itself."""
    arbedb_conn.autocommit = True
    applier = _supabase_like_role(arbedb_conn, attributes)
    notices = []
    arbedb_conn.add_notice_handler(lambda diag: notices.append((diag.severity_nonlocalized, diag.message_primary)))
    try:
        with arbedb_conn.transaction(force_rollback=True):
            # As on Supabase, the migrating role owns what it granted on.
            arbedb_conn.execute(f'ALTER SCHEMA public OWNER TO "{applier}"')
            for table in load_shapes(arbedb_project).qualified_names:
                arbedb_conn.execute(f'ALTER TABLE {table} OWNER TO "{applier}"')
            arbedb_conn.execute(f'SET LOCAL ROLE "{applier}"')
            arbedb_conn.execute(electric.prelude_sql(arbedb_project))
            arbedb_conn.execute("SELECT set_config('arbedb.electric_role', %s, true)", (scratch_role,))
            arbedb_conn.execute((arbedb_project.root / ROLE_SQL).read_text())
            created = arbedb_conn.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s",
                                          (scratch_role,)).fetchone()[0]
    finally:
        arbedb_conn.execute(f'DROP ROLE "{applier}"')
    can_create = attributes == "REPLICATION BYPASSRLS" and arbedb_cluster.major() >= 16
    if can_create:
        assert (created, notices) == (1, [])
    else:
        assert created == 0
        assert len(notices) == 1
        severity, message = notices[0]
        assert severity == "WARNING" and "\n" not in message
        assert message.startswith(f"electric: role {scratch_role} skipped: {applier} may not create")
        assert "connect Electric as the postgres role over the direct (not pooled) connection" in message


def test_apply_shows_sql_warnings_on_the_command_line(project_copy, empty_dsn):
    """The runtime keeps every WARNING the SQL raises; `arbedb apply` prints each on one line."""
    (project_copy.root / "electric" / "99_warns.sql").write_text(
        "DO $$ BEGIN RAISE WARNING 'electric: something skipped; do this instead'; END $$;\n")
    result = commands.apply(project_copy, empty_dsn)
    assert result.notices == ["electric: something skipped; do this instead"]
    proc = subprocess.run([sys.executable, "-m", "arbedb.cli", "apply", "--redeclare", "--dsn", empty_dsn],
                          cwd=project_copy.root, capture_output=True, text=True, check=True)
    assert "arbedb: warning: electric: something skipped; do this instead\n" in proc.stderr
