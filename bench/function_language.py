"""Why the membership and credential helpers are PL/pgSQL, measured side by side.

    .venv/bin/python bench/function_language.py [--dsn URL] [--calls 2000] [--repeat 15]

Each project function below is SECURITY DEFINER or has a SET clause, so as a
LANGUAGE sql function PostgreSQL would never inline it, and (before PostgreSQL
18) would plan its body again on every call. This creates a LANGUAGE sql twin of
each in a scratch database and prints, per function, the ratio of the twin's time
to the project function's time for ``--calls`` calls made as an authenticated
caller inside one server-side loop (so the round trip does not dilute it),
runs interleaved, median of ``--repeat``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import psycopg
from common import interleaved_medians, migrated_database  # also puts tooling/ on sys.path
from rich.console import Console
from rich.table import Table

from arbedb.testing.impersonate import user_claims
from arbedb.testing.world import WorldBuilder

# The SQL-language twins: the project's bodies as plain SQL functions.
TWINS = """
CREATE FUNCTION arbe.sql_house_role(house_id uuid) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT m.role FROM public.members AS m
    WHERE m.house_id = sql_house_role.house_id AND m.user_id = arbe.caller_id()
      AND m.deleted_at IS NULL AND m.house_deleted_at IS NULL
$$;
CREATE FUNCTION arbe.sql_caller_bypasses_rls() RETURNS boolean
LANGUAGE sql STABLE SET search_path = '' AS $$
    SELECT coalesce((SELECT r.rolsuper OR r.rolbypassrls FROM pg_catalog.pg_roles r
                     WHERE r.rolname = current_user), false)
$$;
CREATE FUNCTION arbe.sql_acceptable_invite(token text) RETURNS public.invites
LANGUAGE sql STABLE SET search_path = '' AS $$
    SELECT i.* FROM arbe_private.invite_tokens AS t
    JOIN public.invites AS i ON i.id = t.invite_id
    JOIN public.houses AS h ON h.id = i.house_id
    WHERE t.token_hash = arbe.token_hash(token) AND i.deleted_at IS NULL AND i.accepted_at IS NULL
      AND i.expires_at > now() AND h.deleted_at IS NULL AND arbe.caller_email() IS NOT NULL
      AND lower(i.email) = arbe.caller_email()
$$;
CREATE FUNCTION arbe.sql_lookup_invite(token text)
RETURNS TABLE (house_id uuid, house_name text, role text, expires_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT i.house_id, h.name, i.role, i.expires_at FROM arbe.sql_acceptable_invite(token) AS i
    JOIN public.houses AS h ON h.id = i.house_id WHERE i.id IS NOT NULL
$$;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA arbe TO authenticated;
"""

# (label, call with %(house)s / %(token)s placeholders: the twin is "sql_" + name)
CALLS = [
    ("house_role", "arbe.{}house_role(%(house)s)"),
    ("caller_bypasses_rls", "arbe.{}caller_bypasses_rls()"),
    ("lookup_invite", "(SELECT count(*) FROM arbe.{}lookup_invite(%(token)s))"),
]


def loop_seconds(conn, claims: str, call: str, params: dict, calls: int) -> float:
    """Time ``calls`` evaluations of ``call`` in one DO loop, as the caller (rolled back)."""
    body = f"DO $b$ BEGIN FOR i IN 1..{calls} LOOP PERFORM {call}; END LOOP; END $b$"
    with conn.transaction(force_rollback=True), conn.cursor() as cur:
        cur.execute("SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true)",
                    (claims,))
        statement = psycopg.ClientCursor(conn).mogrify(body, params)  # DO takes no parameters: bind here
        started = time.perf_counter()
        cur.execute(statement)
        return time.perf_counter() - started


def run(dsn: str, calls: int, repeat: int) -> None:
    with psycopg.connect(dsn) as conn:
        w = WorldBuilder(conn)
        owner = w.user("owner@example.com")
        house = w.house("bench", created_by=owner)
        with conn.cursor() as cur:
            cur.execute("SET LOCAL ROLE authenticated")
            cur.execute("SELECT set_config('request.jwt.claims', %s, true)",
                        (json.dumps(user_claims(owner, "owner@example.com")),))
            token = cur.execute("SELECT arbe.create_invite(%s, 'owner@example.com', 'member')", (house,)).fetchone()[0]
            cur.execute("RESET ROLE")
        conn.execute(TWINS)
        conn.commit()
        claims = json.dumps(user_claims(owner, "owner@example.com"))
        params = {"house": house, "token": token}
        table = Table(title=f"SQL twin / project PL/pgSQL function, {calls:,} calls per run, median of {repeat}")
        for col in ("function", "ratio", "µs per call: sql / plpgsql"):
            table.add_column(col, justify="right")
        for label, call in CALLS:
            twin, ours = call.format("sql_"), call.format("")
            ma, mb = interleaved_medians(repeat, lambda: loop_seconds(conn, claims, twin, params, calls),
                                         lambda: loop_seconds(conn, claims, ours, params, calls))
            table.add_row(label, f"{ma / mb:.1f}", f"{ma / calls * 1e6:.1f} / {mb / calls * 1e6:.1f}")
        Console(width=120).print(table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", help="a server to use (a database is created and dropped on it)")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    with migrated_database(args.dsn) as dsn:
        run(dsn, args.calls, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
