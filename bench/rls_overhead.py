"""What RLS costs on the hot paths, measured side by side in one run.

    .venv/bin/python bench/rls_overhead.py [--dsn URL] [--threads 1000000] [--repeat 15]

Data: 2,000 live houses with 5 members each, ``--threads`` threads spread evenly
over them (10% soft-deleted), and three callers who belong to 1, 10 and 100
houses. For each caller it prints the ratio of medians of:

(a) ``SELECT … FROM threads WHERE deleted_at IS NULL`` as the caller under RLS,
    to the same query run with RLS bypassed and the membership predicate written
    by hand (``house_id = ANY (ARRAY(SELECT house_id FROM members WHERE …))``);
(b) the shape query ``… WHERE house_id = $1 AND deleted_at IS NULL`` as the
    caller under RLS, to the same query by a role that bypasses RLS;
(c) for contrast, (a)'s query with the predicate in the form the policies avoid,
    ``house_id IN (SELECT arbe.caller_house_ids())``, to the same baseline;
(d) for contrast, the membership lookup as it was before revision 0003 (house
    liveness read from houses, one probe per membership) to arbe.caller_house_ids
    as it is (members.house_deleted_at, one index-only scan): what the copy buys.

Runs are interleaved (A, B, A, B, …) so drift on a shared machine hits both
sides alike; absolute times are printed only as context. It starts its own
throwaway server unless --dsn is given (then it creates and drops a database).
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid

import psycopg
from common import interleaved_medians, migrated_database  # also puts tooling/ on sys.path
from rich.console import Console
from rich.table import Table

from arbedb.testing.impersonate import user_claims

HOUSES = 2000
# (d)'s "before": arbe.caller_house_ids as it was before revision 0003, made in the
# scratch database only.
PROBING_LOOKUP = """
CREATE FUNCTION arbe.bench_house_ids_by_probe() RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER ROWS 10 SET search_path = '' AS $$
BEGIN
    RETURN QUERY
    SELECT m.house_id FROM public.members AS m
    WHERE m.user_id = arbe.caller_id() AND m.deleted_at IS NULL
      AND (SELECT h.deleted_at IS NULL FROM public.houses AS h WHERE h.id = m.house_id);
END $$;
GRANT EXECUTE ON FUNCTION arbe.bench_house_ids_by_probe() TO authenticated"""
COLUMNS = "id, house_id, title, status, kind, updated_at"
# The best predicate a person would write by hand on this schema: live memberships
# in live houses (members.house_deleted_at mirrors the house), one index-only scan.
BY_HAND = """house_id = ANY (ARRAY(
    SELECT m.house_id FROM public.members m
    WHERE m.user_id = %(user)s AND m.deleted_at IS NULL AND m.house_deleted_at IS NULL))"""

console = Console(width=140)  # the table is the output: never wrap it


def load(conn, n_threads: int) -> dict[int, uuid.UUID]:
    """Bulk-load the world with triggers off (session_replication_role), then analyse."""
    callers = {k: uuid.uuid4() for k in (1, 10, 100)}
    with conn.cursor() as cur:
        cur.execute("SET session_replication_role = replica")
        cur.execute("""
            CREATE TEMP TABLE h AS SELECT gen_random_uuid() AS id, g AS n FROM generate_series(1, %s) g""",
                    (HOUSES,))
        cur.execute("INSERT INTO houses (id, house_id, name) SELECT id, id, 'house ' || n FROM h")
        cur.execute("""
            CREATE TEMP TABLE u AS SELECT gen_random_uuid() AS id, g AS n FROM generate_series(1, %s) g""",
                    (HOUSES * 5,))
        cur.execute("INSERT INTO auth.users (id) SELECT id FROM u")
        cur.execute("""
            INSERT INTO members (house_id, user_id, role)
            SELECT h.id, u.id, CASE WHEN u.n % 5 = 0 THEN 'owner' ELSE 'member' END
            FROM u JOIN h ON h.n = (u.n - 1) / 5 + 1""")
        for k, user in callers.items():
            cur.execute("INSERT INTO auth.users (id) VALUES (%s)", (user,))
            cur.execute("INSERT INTO members (house_id, user_id, role) SELECT id, %s, 'member' FROM h WHERE n <= %s",
                        (user, k))
        cur.execute("""
            INSERT INTO threads (house_id, kind, status, title, deleted_at)
            SELECT h.id, 'chat', 'open', 'thread ' || g,
                   CASE WHEN (g / %s) %% 10 = 0 THEN now() END
            FROM generate_series(0, %s - 1) g JOIN h ON h.n = g %% %s + 1""", (HOUSES, n_threads, HOUSES))
        cur.execute("SET session_replication_role = origin")
    conn.commit()
    conn.autocommit = True
    conn.execute("VACUUM ANALYZE")
    conn.autocommit = False
    return callers


def timed(conn, role: str | None, claims: str | None, sql: str, params: dict) -> float:
    with conn.transaction(force_rollback=True), conn.cursor() as cur:
        if role:
            cur.execute(f"SET LOCAL ROLE {role}")
        if claims:
            cur.execute("SELECT set_config('request.jwt.claims', %s, true)", (claims,))
        started = time.perf_counter()
        cur.execute(sql, params)
        cur.fetchall()
        return time.perf_counter() - started


def ratio(conn, repeat: int, a: tuple, b: tuple) -> tuple[float, float, float]:
    """Median of a / median of b over interleaved runs, and both medians in ms."""
    ma, mb = interleaved_medians(repeat, lambda: timed(conn, *a), lambda: timed(conn, *b))
    return ma / mb, ma * 1000, mb * 1000


def plan(conn, claims: str, sql: str, params: dict) -> str:
    with conn.transaction(force_rollback=True), conn.cursor() as cur:
        cur.execute("SET LOCAL ROLE authenticated")
        cur.execute("SELECT set_config('request.jwt.claims', %s, true)", (claims,))
        rows = cur.execute("EXPLAIN (COSTS OFF) " + sql, params).fetchall()
    return "\n".join(r[0] for r in rows)


def run(dsn: str, n_threads: int, repeat: int) -> bool:
    import json

    with psycopg.connect(dsn) as conn:
        started = time.perf_counter()
        callers = load(conn, n_threads)
        for statement in PROBING_LOOKUP.split(";\nGRANT"):
            conn.execute(statement if statement.startswith("\nCREATE") else "GRANT" + statement)
        conn.commit()
        console.print(f"loaded {n_threads:,} threads over {HOUSES:,} houses in {time.perf_counter() - started:.1f}s")
        first_house = conn.execute("SELECT id FROM houses WHERE name = 'house 1'").fetchone()[0]
        table = Table(title="RLS overhead: ratio of medians (RLS / baseline), interleaved runs")
        for col in ("caller in", "rows", "(a) list under RLS", "(b) shape under RLS", "(c) IN (SELECT srf)", "(d) lookup before/now",
                    "(a) ms rls/base", "(b) ms rls/base"):
            table.add_column(col, justify="right")
        worst = 0.0
        plans = {}
        for k, user in callers.items():
            claims = json.dumps(user_claims(user))
            p = {"user": user, "house": first_house}
            listing = f"SELECT {COLUMNS} FROM threads WHERE deleted_at IS NULL"
            shape = f"SELECT {COLUMNS} FROM threads WHERE house_id = %(house)s AND deleted_at IS NULL"
            srf = listing + " AND house_id IN (SELECT arbe.caller_house_ids('member'))"
            ra, ma_rls, ma_base = ratio(conn, repeat, ("authenticated", claims, listing, p),
                                        (None, None, f"{listing} AND {BY_HAND}", p))
            rb, mb_rls, mb_base = ratio(conn, repeat, ("authenticated", claims, shape, p),
                                        ("service_role", None, shape, p))
            rc, *_ = ratio(conn, max(3, repeat // 5), (None, claims, srf, p),
                           (None, None, f"{listing} AND {BY_HAND}", p))
            rd, *_ = ratio(conn, repeat, ("authenticated", claims, "SELECT count(*) FROM arbe.bench_house_ids_by_probe()", p),
                           ("authenticated", claims, "SELECT count(*) FROM arbe.caller_house_ids()", p))
            rows = conn.execute(f"SELECT count(*) FROM threads WHERE deleted_at IS NULL AND {BY_HAND}", p).fetchone()[0]
            conn.rollback()
            worst = max(worst, ra, rb)
            table.add_row(f"{k} house{'s' if k > 1 else ''}", f"{rows:,}", f"{ra:.2f}", f"{rb:.2f}", f"{rc:.1f}", f"{rd:.1f}",
                          f"{ma_rls:.1f}/{ma_base:.1f}", f"{mb_rls:.1f}/{mb_base:.1f}")
            if k == 1:
                plans = {"(a) list": plan(conn, claims, listing, p), "(b) shape": plan(conn, claims, shape, p)}
        console.print(table)
        for name, text in plans.items():
            console.print(f"\nplan {name}, caller in 1 house, under RLS:\n{text}")
        verdict = "within" if worst <= 1.2 else "OVER"
        console.print(f"\nworst (a)/(b) ratio {worst:.2f}: {verdict} the 1.2 target")
        return worst <= 1.2


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", help="a server to use (a database is created and dropped on it)")
    parser.add_argument("--threads", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    with migrated_database(args.dsn) as dsn:
        ok = run(dsn, args.threads, args.repeat)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
