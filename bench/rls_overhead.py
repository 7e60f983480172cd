"""What RLS costs on the hot paths, measured side by side in one run.

    .venv/bin/python bench/rls_overhead.py [--dsn URL] [--threads 1000000] [--houses 100000] [--live-houses 2000]
                                           [--repeat 15]

Data: ``--live-houses`` (2,000) live houses with 5 members each, ``--threads``
threads spread evenly over them (10% soft-deleted), other tenants' houses up to
``--houses`` in all (one owner each; half created by 100 other users, half by
server code with ``created_by`` NULL), and four callers who belong to 1, 10, 100
and 1,000 houses (the first houses; never more than there are). For the first
three callers it prints the ratio of medians of:

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

and, in a second table, for houses and members:

(e) ``SELECT … FROM houses`` as the caller under RLS, to the same query with RLS
    bypassed and the policy's predicate written by hand;
(f) the same for ``SELECT … FROM members``;
(g) for contrast, (e) without the indexes of revision 0006 (dropped inside the
    timed transaction and rolled back) to (e) as it is: what the indexes buy.

Then for an agent's API key (every house has two agents, threads alternate
between them; the key is bound to one agent of the first house):

(h) the key's ``SELECT … FROM threads WHERE deleted_at IS NULL`` under RLS, to
    the same query with RLS bypassed and the key's check written by hand
    (``(house_id, agent_id) = (SELECT … FROM api_keys …)`` of the live key);
(i) the agent shape ``… WHERE house_id = $1 AND agent_id = $2 AND deleted_at IS
    NULL`` as the key under RLS, to the same query with the key's check by hand
    and RLS bypassed; and, for context only, to the bare shape query by a role
    that bypasses RLS and checks no key at all (what RLS adds in absolute terms:
    one key check and the member arm's empty lookup per statement);
(j) for contrast, the key check alone as it was before revision 0007 (liveness
    read from the house and agent rows: three primary-key probes) to the check as
    it is (one lookup of the key's row): what the copies buy per statement.

and, in a last table, the smallest reads, for all four callers, each the shape
query of house 1 under RLS to the same query by a role that bypasses RLS (as (b)):

(k) the houses shape ``… FROM houses WHERE house_id = $1 AND deleted_at IS NULL``:
    one row;
(l) (b)'s threads shape of one house, now also for the caller in 1,000 houses
    (whose membership array is 1,000 ids for a query naming one house);
(m) the members shape of house 1, which has 10 live members.

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
from common import interleaved_medians, load_world, migrated_database, timed  # also puts tooling/ on sys.path
from rich.console import Console
from rich.table import Table

from arbedb.testing.impersonate import key_claims, user_claims

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

# houses and members, the policies' predicates by hand (30_houses.sql, 31_members.sql).
MY_HOUSES = """ARRAY(SELECT m.house_id FROM public.members m
    WHERE m.user_id = %(user)s AND m.deleted_at IS NULL AND m.house_deleted_at IS NULL)"""
HOUSES_BY_HAND = f"""id = ANY ({MY_HOUSES}) OR (created_by = %(user)s
    AND NOT EXISTS (SELECT FROM public.members m WHERE m.house_id = houses.id))"""
MEMBERS_BY_HAND = f"user_id = %(user)s OR house_id = ANY ({MY_HOUSES})"
HOUSES_LIST = "SELECT id, name, created_by, updated_at FROM houses"
MEMBERS_LIST = "SELECT id, house_id, user_id, role FROM members"
WITHOUT_0006 = "DROP INDEX public.houses_created_by_idx, public.members_user_idx"
# The key's check by hand: the live key's house and agent, as arbe.live_api_key
# asks (one primary-key lookup: the key's row carries its house's and agent's
# liveness since revision 0007).
KEY_CHECK = """SELECT k.house_id, k.agent_id FROM public.api_keys k
    WHERE k.id = %(key)s AND k.deleted_at IS NULL AND k.revoked_at IS NULL
      AND (k.expires_at IS NULL OR k.expires_at > now())
      AND k.house_deleted_at IS NULL AND k.agent_deleted_at IS NULL"""
KEY_BY_HAND = f"(house_id, agent_id) = ({KEY_CHECK})"
# (j)'s "before": the same check as it was before revision 0007, liveness read
# from the house and agent rows (three primary-key probes).
PROBING_KEY_CHECK = """SELECT k.house_id, k.agent_id FROM public.api_keys k JOIN public.houses h ON h.id = k.house_id
    WHERE k.id = %(key)s AND k.deleted_at IS NULL AND k.revoked_at IS NULL
      AND (k.expires_at IS NULL OR k.expires_at > now()) AND h.deleted_at IS NULL
      AND (k.agent_id IS NULL OR EXISTS (
          SELECT FROM public.agents a WHERE a.id = k.agent_id AND a.deleted_at IS NULL))"""

console = Console(width=140)  # the table is the output: never wrap it
CALLERS = (1, 10, 100, 1000)  # how many houses each caller belongs to
USER_GOAL, KEY_GOAL = 1.10, 1.2  # issue 19: every read of a user, of a key
SMALL_SHAPES = {  # (k), (l), (m): the shape queries of house 1
    "(k)": "SELECT id, name, created_by, updated_at FROM houses WHERE house_id = %(house)s AND deleted_at IS NULL",
    "(l)": f"SELECT {COLUMNS} FROM threads WHERE house_id = %(house)s AND deleted_at IS NULL",
    "(m)": "SELECT id, house_id, user_id, role FROM members WHERE house_id = %(house)s AND deleted_at IS NULL",
}
MEMBERS_OF_HOUSE_1 = 10


def load_other_tenants(conn, n_houses: int, live: int) -> None:
    """Houses of other tenants up to ``n_houses`` in all, one owner membership each:
    half created by 100 other users, half by server code (created_by NULL)."""
    with conn.cursor() as cur:
        cur.execute("SET session_replication_role = replica")
        cur.execute("CREATE TEMP TABLE o AS SELECT gen_random_uuid() AS id, g AS n FROM generate_series(1, 100) g")
        cur.execute("INSERT INTO auth.users (id) SELECT id FROM o")
        cur.execute("""
            INSERT INTO houses (id, house_id, name, created_by)
            SELECT id, id, 'other ' || n, CASE WHEN n %% 2 = 0 THEN (SELECT o.id FROM o WHERE o.n = h.n %% 100 + 1) END
            FROM (SELECT gen_random_uuid() AS id, g AS n FROM generate_series(1, %s) g) AS h""",
                    (max(0, n_houses - live),))
        cur.execute("""
            INSERT INTO members (house_id, user_id, role)
            SELECT h.id, coalesce(h.created_by, (SELECT id FROM o WHERE n = 1)), 'owner'
            FROM houses h WHERE h.name LIKE 'other %%'""")
        cur.execute("SET session_replication_role = origin")


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


def run(dsn: str, n_threads: int, n_houses: int, live: int, repeat: int) -> bool:
    import json

    with psycopg.connect(dsn) as conn:
        started = time.perf_counter()
        load_other_tenants(conn, n_houses, live)
        every_caller = load_world(conn, live, n_threads, {k: k for k in sorted({min(n, live) for n in CALLERS})})
        callers = {k: user for k, user in every_caller.items() if k <= 100}
        for statement in PROBING_LOOKUP.split(";\nGRANT"):
            conn.execute(statement if statement.startswith("\nCREATE") else "GRANT" + statement)
        conn.commit()
        total = conn.execute("SELECT count(*) FROM houses").fetchone()[0]
        console.print(f"loaded {n_threads:,} threads over {live:,} houses, {total:,} houses in all, "
                      f"in {time.perf_counter() - started:.1f}s")
        first_house = conn.execute("SELECT id FROM houses WHERE name = 'house 1'").fetchone()[0]
        top_up_members(conn, first_house, MEMBERS_OF_HOUSE_1)
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
        worst = max(worst, houses_and_members(conn, callers, repeat, total, plans))
        for name, text in plans.items():
            console.print(f"\nplan {name}, caller in 1 house, under RLS:\n{text}")
        worst = max(worst, smallest_reads(conn, every_caller, repeat, first_house))
        worst_key = key_rows(conn, repeat, first_house)
        ok = worst <= USER_GOAL and worst_key <= KEY_GOAL
        console.print(f"\nworst user read (a)/(b)/(e)/(f)/(k)/(l)/(m) ratio {worst:.2f}, worst key read (h)/(i) "
                      f"{worst_key:.2f}: {'within' if ok else 'OVER'} the goals ({USER_GOAL:.2f} and {KEY_GOAL:.2f})")
        return ok


def houses_and_members(conn, callers: dict, repeat: int, total: int, plans: dict) -> float:
    """(e), (f), (g) for each caller; returns the worst of (e) and (f)."""
    import json

    table = Table(title=f"houses and members among {total:,} houses: ratio of medians (RLS / baseline)")
    for col in ("caller in", "houses rows", "(e) houses under RLS", "members rows", "(f) members under RLS",
                "(g) houses without 0006 / now", "(e) ms rls/base", "(f) ms rls/base"):
        table.add_column(col, justify="right")
    worst = 0.0
    for k, user in callers.items():
        claims = json.dumps(user_claims(user))
        p = {"user": user}
        re, me_rls, me_base = ratio(conn, repeat, ("authenticated", claims, HOUSES_LIST, p),
                                    (None, None, f"{HOUSES_LIST} WHERE {HOUSES_BY_HAND}", p))
        rf, mf_rls, mf_base = ratio(conn, repeat, ("authenticated", claims, MEMBERS_LIST, p),
                                    (None, None, f"{MEMBERS_LIST} WHERE {MEMBERS_BY_HAND}", p))
        rg, *_ = ratio(conn, max(3, repeat // 5), ("authenticated", claims, HOUSES_LIST, p, WITHOUT_0006),
                       ("authenticated", claims, HOUSES_LIST, p))
        n_houses = conn.execute(f"SELECT count(*) FROM houses WHERE {HOUSES_BY_HAND}", p).fetchone()[0]
        n_members = conn.execute(f"SELECT count(*) FROM members WHERE {MEMBERS_BY_HAND}", p).fetchone()[0]
        conn.rollback()
        worst = max(worst, re, rf)
        table.add_row(f"{k} house{'s' if k > 1 else ''}", f"{n_houses:,}", f"{re:.2f}", f"{n_members:,}", f"{rf:.2f}",
                      f"{rg:.0f}", f"{me_rls:.2f}/{me_base:.2f}", f"{mf_rls:.2f}/{mf_base:.2f}")
        if k == 1:
            plans["(e) houses"] = plan(conn, claims, HOUSES_LIST, p)
            plans["(f) members"] = plan(conn, claims, MEMBERS_LIST, p)
    console.print(table)
    return worst


def top_up_members(conn, house: uuid.UUID, want: int) -> None:
    """Give ``house`` ``want`` live members (new users), as service code would."""
    have = conn.execute("SELECT count(*) FROM members WHERE house_id = %s AND deleted_at IS NULL", (house,)).fetchone()[0]
    conn.execute("""
        WITH u AS (INSERT INTO auth.users (id) SELECT gen_random_uuid() FROM generate_series(1, %s) RETURNING id)
        INSERT INTO members (house_id, user_id, role) SELECT %s, id, 'member' FROM u""", (max(0, want - have), house))
    conn.commit()


def smallest_reads(conn, callers: dict, repeat: int, house: uuid.UUID) -> float:
    """(k), (l), (m) for each caller; returns the worst ratio."""
    import json

    table = Table(title="Smallest reads, the shapes of house 1: ratio of medians (RLS / RLS bypassed)")
    for col in ("caller in", "(k) houses shape", "(l) threads shape", "(m) members shape", "(k) ms rls/base",
                "(l) ms rls/base", "(m) ms rls/base"):
        table.add_column(col, justify="right")
    rows = {name: conn.execute(f"SELECT count(*) FROM ({sql}) t", {"house": house}).fetchone()[0]
            for name, sql in SMALL_SHAPES.items()}
    conn.rollback()
    worst = 0.0
    for k, user in callers.items():
        claims = json.dumps(user_claims(user))
        p = {"house": house}
        measured = [ratio(conn, repeat, ("authenticated", claims, sql, p), ("service_role", None, sql, p))
                    for sql in SMALL_SHAPES.values()]
        worst = max(worst, *(r for r, _, _ in measured))
        table.add_row(f"{k} house{'s' if k > 1 else ''}", *(f"{r:.2f}" for r, _, _ in measured),
                      *(f"{rls:.2f}/{base:.2f}" for _, rls, base in measured))
    table.caption = "rows: " + ", ".join(f"{name} {n:,}" for name, n in rows.items())
    console.print(table)
    return worst


def key_rows(conn, repeat: int, house: uuid.UUID) -> float:
    """(h) and (i) for an agent key of ``house``; prints its row and plans, returns the worse ratio."""
    import json

    key, agent = conn.execute("SELECT id, agent_id FROM api_keys WHERE house_id = %s ORDER BY name, prefix LIMIT 1",
                              (house,)).fetchone()
    conn.rollback()
    claims = json.dumps(key_claims(key))
    p = {"house": house, "agent": agent, "key": key}
    listing = f"SELECT {COLUMNS} FROM threads WHERE deleted_at IS NULL"
    by_hand = f"{listing} AND {KEY_BY_HAND}"
    shape = f"SELECT {COLUMNS} FROM threads WHERE house_id = %(house)s AND agent_id = %(agent)s AND deleted_at IS NULL"
    re_, me_rls, me_base = ratio(conn, repeat, ("authenticated", claims, listing, p), (None, None, by_hand, p))
    rf, mf_rls, mf_base = ratio(conn, repeat, ("authenticated", claims, shape, p), (None, None, f"{shape} AND {KEY_BY_HAND}", p))
    rf_bare, *_ = ratio(conn, repeat, ("authenticated", claims, shape, p), ("service_role", None, shape, p))
    rj, *_ = ratio(conn, repeat, (None, None, PROBING_KEY_CHECK, p), (None, None, KEY_CHECK, p))
    rows = conn.execute(f"SELECT count(*) FROM ({by_hand}) t", p).fetchone()[0]
    conn.rollback()
    table = Table(title="Agent key: ratio of medians (RLS / baseline), interleaved runs")
    for col in ("caller", "rows", "(h) list under RLS", "(i) agent shape under RLS", "(i) vs bare bypass",
                "(j) key check before/now", "(h) ms rls/base", "(i) ms rls/base"):
        table.add_column(col, justify="right")
    table.add_row("agent key", f"{rows:,}", f"{re_:.2f}", f"{rf:.2f}", f"{rf_bare:.2f}", f"{rj:.2f}", f"{me_rls:.2f}/{me_base:.2f}",
                  f"{mf_rls:.2f}/{mf_base:.2f}")
    console.print(table)
    for name, sql_text in (("(h) list", listing), ("(i) agent shape", shape)):
        console.print(f"\nplan {name}, agent key, under RLS:\n{plan(conn, claims, sql_text, p)}")
    return max(re_, rf)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", help="a server to use (a database is created and dropped on it)")
    parser.add_argument("--threads", type=int, default=1_000_000)
    parser.add_argument("--houses", type=int, default=100_000, help="houses in all, other tenants' included")
    parser.add_argument("--live-houses", type=int, default=2000, help="houses with members, threads, agents and keys")
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    with migrated_database(args.dsn) as dsn:
        ok = run(dsn, args.threads, args.houses, args.live_houses, args.repeat)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
