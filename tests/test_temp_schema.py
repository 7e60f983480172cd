"""The caller's temporary schema never reaches code that runs with another role's rights.

PostgreSQL searches the session's pg_temp *first* for relations and types unless
the search_path names it, and `search_path = ''` does not: a caller with TEMP
(PUBLIC has it) could create `pg_temp.uuid` as a domain whose CHECK runs their
code, and every `uuid` a SECURITY DEFINER function (or a trigger it fires)
declared or cast to would run it as the owner. Every such function sets
`search_path = pg_catalog, pg_temp` (docs/decisions.md, "The caller's temporary
schema"). Here a caller plants temp types, domains, views and functions named
like every name the schema's function bodies use, then walks every caller path;
every definer function and every trigger function on a public table must have
run (pg_stat_xact_user_functions), and no plant may ever have been consulted.
"""

from __future__ import annotations

import re
import uuid

import psycopg
import pytest

from arbedb.testing.impersonate import clear_identity, key_claims, set_identity, user_claims
from arbedb.testing.world import WorldBuilder

# Every function that can run with rights other than its caller's: the definer
# functions, and the trigger functions on the public tables (a definer
# function's write fires them as the owner).
PRIVILEGED = """
SELECT p.oid FROM pg_catalog.pg_proc AS p
WHERE p.pronamespace IN ('arbe'::regnamespace, 'arbe_private'::regnamespace, 'public'::regnamespace)
  AND p.prosecdef
UNION
SELECT t.tgfoid FROM pg_catalog.pg_trigger AS t
WHERE NOT t.tgisinternal AND t.tgrelid IN (SELECT c.oid FROM pg_catalog.pg_class AS c
                                           WHERE c.relnamespace = 'public'::regnamespace)
"""
# Every word of every body these functions (and the helpers they call) hold.
BODIES = """
SELECT string_agg(p.prosrc, ' ') FROM pg_catalog.pg_proc AS p
WHERE p.pronamespace IN ('arbe'::regnamespace, 'arbe_private'::regnamespace, 'auth'::regnamespace)
"""
SPY = """
CREATE FUNCTION pg_temp.spy(what text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'planted temp % consulted as %', what, current_user;
END $$
"""


def plant(conn, words: set[str]) -> set[str]:
    """As an authenticated caller, a temp object named like each word; returns the planted names."""
    types = {r[0] for r in conn.execute(
        "SELECT t.typname FROM pg_catalog.pg_type AS t WHERE t.typnamespace = 'pg_catalog'::regnamespace "
        "AND t.typtype = 'b' AND t.typname = ANY(%s)", (sorted(words),))}
    relations = {r[0] for r in conn.execute(
        "SELECT c.relname FROM pg_catalog.pg_class AS c WHERE c.relname = ANY(%s) AND c.relkind IN ('r', 'v', 'p')",
        (sorted(words),))}
    functions = {r[0] for r in conn.execute(
        "SELECT DISTINCT p.proname FROM pg_catalog.pg_proc AS p WHERE p.proname = ANY(%s) AND p.prokind = 'f'",
        (sorted(words),))}
    planted = set()
    statements = [(f"relation {r}", f'CREATE TEMP VIEW "{r}" AS SELECT pg_temp.spy(\'relation {r}\') AS spied')
                  for r in relations]
    statements += [(f"type {t}", f'CREATE DOMAIN pg_temp."{t}" AS pg_catalog."{t}" CHECK (pg_temp.spy(\'type {t}\'))')
                   for t in types - relations]
    statements += [(f"function {f}", f'CREATE FUNCTION pg_temp."{f}"({args}) RETURNS boolean LANGUAGE sql '
                                     f"AS $$ SELECT pg_temp.spy('function {f}') $$")
                   for f in functions for args in ("", "text")]
    set_identity(conn.cursor(), "authenticated", {"role": "authenticated"})
    conn.execute(SPY)
    for name, statement in statements:
        try:
            with conn.transaction():
                conn.execute(statement)
            planted.add(name)
        except psycopg.errors.Error:
            pass  # e.g. a type whose input function a domain cannot wrap
    clear_identity(conn.cursor())
    return planted


class Walk:
    """One connection, one transaction: each step as its caller, stopping at the first failure."""

    def __init__(self, conn):
        self.conn = conn

    def __call__(self, who, sql: str, params=()):
        role, claims = who
        cur = self.conn.cursor()
        set_identity(cur, role, claims)
        try:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else None
        except psycopg.Error as exc:
            raise AssertionError(f"as {claims}: {sql}\n  -> {exc}") from None
        finally:
            if not self.conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR:
                clear_identity(cur)


def walk_every_caller_path(conn) -> None:
    """Every caller path of the schema's privileged functions, as the API drives them."""
    w = WorldBuilder(conn)
    a, b, c = w.user("a@example.com"), w.user("b@example.com"), w.user("c@example.com")
    A = ("authenticated", user_claims(a, "a@example.com"))
    B = ("authenticated", user_claims(b, "b@example.com"))
    C = ("authenticated", user_claims(c, "c@example.com"))
    service = ("service_role", {"role": "service_role"})
    run = Walk(conn)
    house, agent, env, thread, secret = (uuid.uuid4() for _ in range(5))
    run(A, "INSERT INTO public.houses (id, name) VALUES (%s, 'H')", (house,))
    run(C, "INSERT INTO public.houses (id, name) VALUES (%s, 'C')", (uuid.uuid4(),))
    for table in ("houses", "members", "agents", "environments", "threads", "configs", "secrets", "invites",
                  "api_keys"):
        run(A, f"SELECT count(*) FROM public.{table}")
    run(A, "SELECT arbe.is_house_member(%s), arbe.house_role(%s)", (house, house))
    run(A, "INSERT INTO public.agents (id, house_id, name, kind) VALUES (%s, %s, 'ag', 'bot')", (agent, house))
    run(A, "INSERT INTO public.environments (id, house_id, name, kind) VALUES (%s, %s, 'env', 'local')", (env, house))
    run(A, "INSERT INTO public.threads (id, agent_id, kind, status) VALUES (%s, %s, 'chat', 'open')", (thread, agent))
    run(A, "INSERT INTO public.configs (id, agent_id, key, value) VALUES (%s, %s, 'k', '1')", (uuid.uuid4(), agent))
    run(A, "INSERT INTO public.secrets (id, environment_id, name) VALUES (%s, %s, 's')", (secret, env))
    run(A, "SELECT arbe.set_secret(%s, 'v1')", (secret,))
    run(A, "SELECT public.set_secret(%s, 'v2')", (secret,))
    token = run(A, "SELECT arbe.create_invite(%s, 'b@example.com', 'admin')", (house,))[0][0]
    run(A, "SELECT public.create_invite(%s, 'x@example.com', 'member')", (house,))
    run(B, "SELECT * FROM arbe.lookup_invite(%s)", (token,))
    run(B, "SELECT * FROM public.lookup_invite(%s)", (token,))
    run(B, "SELECT arbe.accept_invite(%s)", (token,))
    key = run(A, "SELECT arbe.create_api_key(%s, %s, 'k')", (house, agent))[0][0]
    run(A, "SELECT public.create_api_key(%s, NULL, 'k2')", (house,))
    key_id = run(service, "SELECT api_key_id FROM arbe.resolve_api_key(%s)", (key,))[0][0]
    run(service, "SELECT arbe.read_secret(%s)", (secret,))
    K = ("authenticated", key_claims(key_id))
    run(K, "SELECT count(*) FROM public.threads")
    run(K, "INSERT INTO public.threads (id, agent_id, kind, status) VALUES (%s, %s, 'chat', 'open')",
        (uuid.uuid4(), agent))
    run(K, "UPDATE public.threads SET status = 'done' WHERE id = %s", (thread,))
    run(K, "SELECT arbe.can_access_thread(%s), arbe.caller_agent_id(), arbe.caller_key_house_id()", (thread,))
    run(A, "UPDATE public.houses SET name = 'H2' WHERE id = %s", (house,))
    run(A, "UPDATE public.members SET role = 'owner' WHERE house_id = %s AND user_id = %s", (house, b))
    run(A, "UPDATE public.members SET deleted_at = now() WHERE house_id = %s AND user_id = %s", (house, a))
    run(A, "SELECT count(*) FROM public.houses")  # a house A created and left: created_house_has_members
    run(B, "UPDATE public.api_keys SET revoked_at = now() WHERE id = %s", (key_id,))
    run(B, "UPDATE public.agents SET deleted_at = now() WHERE id = %s", (agent,))
    # A deleted row's write: the only one freeze_deleted's WHEN lets in (server code restoring it).
    run(service, "UPDATE public.agents SET name = 'ag2' WHERE id = %s", (agent,))
    run(B, "UPDATE public.houses SET deleted_at = now() WHERE id = %s", (house,))
    run(service, "DELETE FROM public.members WHERE user_id = %s", (b,))


@pytest.fixture
def tracked(arbedb_conn):
    arbedb_conn.execute("SET track_functions = 'all'")
    return arbedb_conn


def test_no_privileged_function_consults_the_callers_temp_schema(tracked):
    conn = tracked
    words = set(re.findall(r"[a-z_][a-z0-9_]*", conn.execute(BODIES).fetchone()[0].lower()))
    planted = plant(conn, words)
    # The names the review's attack used, and the tables every function reads.
    assert {"type uuid", "type text", "type jsonb", "type bytea", "relation houses", "relation members",
            "relation api_keys", "function now"} <= planted, sorted(planted)
    walk_every_caller_path(conn)
    unexercised = conn.execute(
        f"SELECT p.oid::pg_catalog.regprocedure::pg_catalog.text FROM ({PRIVILEGED}) AS f(oid) JOIN pg_catalog.pg_proc AS p ON p.oid = f.oid "
        "WHERE f.oid NOT IN (SELECT s.funcid FROM pg_catalog.pg_stat_xact_user_functions AS s WHERE s.calls > 0) "
        "ORDER BY 1").fetchall()
    assert unexercised == [], f"privileged functions this walk never ran: {unexercised}"
    conn.rollback()


def test_the_api_roles_need_no_temp(tracked):
    """Without TEMP for anyone but the owner, every caller path still works (docs/decisions.md), and a
    caller cannot plant at all; with TEMP (the default), the test above shows plants are inert."""
    conn = tracked
    database = conn.info.dbname
    conn.execute(f'REVOKE TEMPORARY ON DATABASE "{database}" FROM PUBLIC')
    conn.commit()
    try:
        with psycopg.connect(conn.info.dsn) as fresh:
            fresh.execute("SET track_functions = 'all'")
            set_identity(fresh.cursor(), "authenticated", {"role": "authenticated"})
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                fresh.execute("CREATE TEMP TABLE plant (x int)")
            fresh.rollback()
            walk_every_caller_path(fresh)
            fresh.rollback()
    finally:
        conn.execute(f'GRANT TEMPORARY ON DATABASE "{database}" TO PUBLIC')
        conn.commit()
