"""What RLS and the identity functions cost a statement, in the server's CPU time.

    .venv/bin/python bench/identity_cpu.py --dsn URL [--dsn URL2 …] [--repeat 1000] [--rounds 3]
                                           [--houses 2000] [--threads 200000]

On a shared machine wall-clock medians of 0.2 ms statements drift with the load
(this 2-core machine runs load averages of 6-15); the CPU time the backend itself
spends (utime + stime of its process, from /proc, so the script must run on the
database's machine) does far less. Each ``--dsn`` names a scratch database at head,
for instance one migrated from main's checkout and one from a branch's: the same
world is loaded into each (bench/common.py's ``load_world``, 2,000 houses, 200,000
threads, users in 1, 10 and 1,000 houses (at most ``--houses``), house 1 topped up to 10 members), then
rounds alternate between the databases and, within each, between the two sides:

- reads (k), (l), (m) of bench/rls_overhead.py (the houses, threads and members
  shapes of house 1) as each user under RLS, against the same query as
  service_role; (i) an agent key's shape against the key check written by hand;
- writes: a member's thread insert, an agent key's thread insert (house_id from
  the agent), a member's title update, a member's batch of 200 threads.

Every statement runs in its own rolled-back transaction, preceded by the statement
that sets the role and claims (a bypassing side runs a statement of the same
shape), so a figure is CPU µs per transaction, what both sides share included.
Ratios are medians over the rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

import psycopg
from common import load_world  # also puts tooling/ on sys.path
from rls_overhead import COLUMNS, KEY_BY_HAND, SMALL_SHAPES, load_other_tenants, top_up_members

from arbedb.testing.impersonate import IDENTITY, key_claims, user_claims

TICK = os.sysconf("SC_CLK_TCK")
KEY_SHAPE = f"SELECT {COLUMNS} FROM threads WHERE house_id = %(house)s AND agent_id = %(agent)s AND deleted_at IS NULL"
WRITES = {
    "member thread insert": ("1", "INSERT INTO threads (id, house_id, agent_id, kind, status, title) "
                                  "VALUES (gen_random_uuid(), %(house)s, %(agent)s, 'chat', 'open', 'bench')"),
    "key thread insert": ("key", "INSERT INTO threads (id, agent_id, kind, status, title) "
                                 "VALUES (gen_random_uuid(), %(agent)s, 'chat', 'open', 'bench')"),
    "member title update": ("1", "UPDATE threads SET title = 'renamed' WHERE id = %(thread)s"),
    "member batch of 200 threads": ("1", "INSERT INTO threads (id, house_id, agent_id, kind, status, title) "
                                         "SELECT gen_random_uuid(), %(house)s, %(agent)s, 'chat', 'open', 'b' || g "
                                         "FROM generate_series(1, 200) g"),
}


def backend_cpu(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def cpu_per_transaction(conn, role: str | None, claims: str | None, sql: str, params: dict, n: int) -> float:
    """Backend CPU µs per transaction of (identity statement, ``sql``), rolled back."""
    pid, cur = conn.info.backend_pid, conn.cursor()
    before = backend_cpu(pid)
    for _ in range(n):
        with conn.transaction(force_rollback=True):
            if role:
                cur.execute(IDENTITY, (role, claims))
            else:
                cur.execute("SELECT 1, 2")  # the identity statement's round trip, for the bypassing side
            cur.execute(sql, params)
    return (backend_cpu(pid) - before) / n * 1e6


def load(conn, houses: int, threads: int) -> dict:
    load_other_tenants(conn, houses, houses)
    callers = load_world(conn, houses, threads, {k: min(k, houses) for k in (1, 10, 1000)})
    house = conn.execute("SELECT id FROM houses WHERE name = 'house 1'").fetchone()[0]
    top_up_members(conn, house, 10)
    key, agent = conn.execute("SELECT id, agent_id FROM api_keys WHERE house_id = %s ORDER BY name, prefix LIMIT 1",
                              (house,)).fetchone()
    thread = conn.execute("SELECT id FROM threads WHERE house_id = %s AND deleted_at IS NULL LIMIT 1",
                          (house,)).fetchone()[0]
    conn.commit()
    return {"callers": callers, "p": {"house": house, "agent": agent, "key": key, "thread": thread}}


def claims_of(world: dict, caller: str) -> str:
    if caller == "key":
        return json.dumps(key_claims(world["p"]["key"]))
    return json.dumps(user_claims(world["callers"][int(caller)]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", action="append", required=True, help="a scratch database at head (repeatable)")
    parser.add_argument("--repeat", type=int, default=1000, help="transactions per side per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--houses", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=200_000)
    args = parser.parse_args()
    conns = [psycopg.connect(d) for d in args.dsn]
    worlds = [load(c, args.houses, args.threads) for c in conns]
    names = [c.info.dbname for c in conns]
    print(f"load average {os.getloadavg()[0]:.1f} at the start")
    cases = [(f"({s}) caller in {k}", k, SMALL_SHAPES[f"({s})"], ("service_role", None, SMALL_SHAPES[f"({s})"]))
             for k in ("1", "10", "1000") for s in ("k", "l", "m")]
    cases.append(("(i) agent key shape", "key", KEY_SHAPE, (None, None, f"{KEY_SHAPE} AND {KEY_BY_HAND}")))
    for label, caller, sql, (base_role, base_claims, base_sql) in cases:
        ratios: dict[str, list] = {n: [] for n in names}
        for _ in range(args.rounds):
            for name, conn, world in zip(names, conns, worlds):
                rls = cpu_per_transaction(conn, "authenticated", claims_of(world, caller), sql, world["p"], args.repeat)
                base = cpu_per_transaction(conn, base_role, base_claims, base_sql, world["p"], args.repeat)
                # (a tiny --repeat can spend less than one clock tick: no ratio then)
                ratios[name].append((rls / base if base else float("nan"), rls, base))
        print(f"{label:<24}" + "   ".join(
            f"{n}: {statistics.median(r for r, _, _ in v):.2f} ({statistics.median(a for _, a, _ in v):.0f}/"
            f"{statistics.median(b for _, _, b in v):.0f} µs)" for n, v in ratios.items()), flush=True)
    for label, (caller, sql) in WRITES.items():
        n = max(5, args.repeat // (50 if "batch" in label else 2))
        spent: dict[str, list] = {name: [] for name in names}
        for _ in range(args.rounds):
            for name, conn, world in zip(names, conns, worlds):
                spent[name].append(cpu_per_transaction(conn, "authenticated", claims_of(world, caller), sql,
                                                       world["p"], n))
        print(f"{label:<28}" + "   ".join(f"{name}: {statistics.median(v):.0f} µs" for name, v in spent.items()),
              flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
