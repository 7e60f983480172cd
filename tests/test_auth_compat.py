"""SPEC §3: the auth compatibility step creates only what is missing and replaces nothing."""

from __future__ import annotations

import uuid

import psycopg
from conftest import ROOT, assert_same_catalog, snapshot

from arbedb import commands

COMPAT_SQL = (ROOT / "migrations/versions/0001_auth_compat.up.sql").read_text()


def test_compat_step_run_twice_is_a_no_op_the_second_time(empty_dsn):
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        conn.execute(COMPAT_SQL)
        first = snapshot(empty_dsn)
        conn.execute(COMPAT_SQL)
    assert_same_catalog(first, snapshot(empty_dsn))


def test_compat_step_keeps_an_existing_auth_uid(arbedb_project, empty_dsn):
    fixed = uuid.UUID("00000000-0000-4000-8000-000000000001")
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA auth")
        conn.execute(f"CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$ SELECT '{fixed}'::uuid $$")
    commands.apply(arbedb_project, empty_dsn)
    with psycopg.connect(empty_dsn) as conn:
        assert conn.execute("SELECT auth.uid()").fetchone()[0] == fixed
        # The missing pieces were still added beside it.
        assert conn.execute("SELECT to_regclass('auth.users') IS NOT NULL").fetchone()[0]
    commands.down(arbedb_project, empty_dsn, "base")
    with psycopg.connect(empty_dsn) as conn:
        assert conn.execute("SELECT auth.uid()").fetchone()[0] == fixed, "downgrade removed a pre-existing auth.uid()"
        assert conn.execute("SELECT to_regclass('auth.users') IS NULL").fetchone()[0]


def test_claim_functions_read_request_jwt_claims_like_supabase(arbedb_conn):
    user = uuid.uuid4()
    cur = arbedb_conn.cursor()
    cur.execute("SELECT set_config('request.jwt.claims', %s, true)",
                (f'{{"sub":"{user}","role":"authenticated","email":"a@b.c"}}',))
    assert cur.execute("SELECT auth.uid(), auth.role(), auth.jwt() ->> 'email'").fetchone() == (
        user, "authenticated", "a@b.c")
    cur.execute("SELECT set_config('request.jwt.claims', '', true)")
    assert cur.execute("SELECT auth.uid(), auth.role(), auth.jwt()").fetchone() == (None, None, None)


def test_compat_roles_have_supabase_attributes(arbedb_conn):
    rows = {r[0]: r[1:] for r in arbedb_conn.execute(
        "SELECT rolname, rolcanlogin, rolbypassrls FROM pg_roles "
        "WHERE rolname IN ('anon', 'authenticated', 'service_role')").fetchall()}
    assert rows == {"anon": (False, False), "authenticated": (False, False), "service_role": (False, True)}
