"""What the write path costs: each write a route makes, through RLS with every
trigger, against the same write to twins of the table, measured side by side.

    .venv/bin/python bench/write_path.py [--dsn URL] [--houses 2000] [--threads 200000] [--repeat 9]
                                         [--slices 3] [--batch 1000] [--clock client|server]
                                         [--only TEXT …] [--explain]

Data: ``--houses`` houses with an owner, an admin and three members each, two
agents and an API key per agent, five house-wide configs, ``--threads`` threads
spread over them (10% soft-deleted), all bulk-loaded and analysed.

Twins, made in the scratch database from the catalog (so they follow the
schema as it changes): for threads, members and configs, a *bare twin* (the
same columns, defaults, CHECKs and indexes; no foreign key, trigger or RLS) and
an *FK twin* (the bare twin plus the table's foreign keys), each holding a copy
of the table's rows. Twins are written by the superuser, with the values the
triggers would have filled in written out (created_by, updated_at), so each pair
of statements leaves the same row behind.

Each write is timed as its caller, impersonated the Supabase way (a member of
the house, its admin, service_role, or an agent's API key), and on both twins,
interleaved (real, bare, FK, real, bare, FK, …), every statement in its own
transaction, rolled back; round n acts on house n (its rows, its people), so no
round edits what an earlier one touched. For each write it prints the ratio of
medians to each twin as median [min-max] over ``--slices`` slices of
``--repeat`` rounds, the medians in ms, and the WAL each statement wrote
(pg_current_wal_insert_lsn() before and after, the commit record left out);
last, the worst ratio measured against its goal (issue 19: ÷ FK twin ≤ 1.5 for a
single row, ≤ 2.0 for a batch; an agent key's thread insert ÷ a member's ≤ 1.1).
Exit 1 when any ratio is over its goal.

--clock client (the default, as in rls_overhead.py) times the statement's wall
time at the client: what a route waits, round trip included (which dilutes
every ratio alike). --clock server times planning + execution as EXPLAIN
ANALYZE (TIMING OFF) reports them: triggers and foreign-key checks included,
the round trip and the client not; the schema's own cost, ratios higher.

It starts its own throwaway server unless --dsn is given (then it creates and
drops a database on it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass, field

import psycopg
from common import interleaved, load_world, migrated_database, run_once, spread, vacuum_analyze  # also puts tooling/ on sys.path
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from arbedb.errors import ArbedbError
from arbedb.testing.impersonate import AUTHENTICATED, SERVICE, key_claims, set_identity, user_claims

TWINNED = ("threads", "members", "configs")
CONFIGS_PER_HOUSE = 5
# Per house n (load_world's numbering): its admin, the member who writes, the
# member the admin promotes, the one the admin removes; agent 0 and its key;
# two live threads and two configs to update and to soft-delete.
TARGETS = """
SELECT h.n, h.id AS house,
       (SELECT u.id FROM u WHERE u.n = (h.n - 1) * 5 + 1) AS admin,
       (SELECT u.id FROM u WHERE u.n = (h.n - 1) * 5 + 2) AS member,
       (SELECT m.id FROM members m JOIN u ON u.id = m.user_id WHERE u.n = (h.n - 1) * 5 + 3) AS promoted,
       (SELECT m.id FROM members m JOIN u ON u.id = m.user_id WHERE u.n = (h.n - 1) * 5 + 4) AS removed,
       a.id AS agent, k.id AS key,
       ARRAY(SELECT t.id FROM threads t WHERE t.house_id = h.id AND t.deleted_at IS NULL ORDER BY t.id LIMIT 2)
           AS threads,
       ARRAY(SELECT c.id FROM configs c WHERE c.house_id = h.id ORDER BY c.key LIMIT 2) AS configs
FROM h JOIN a ON a.house_id = h.id AND a.k = 0 JOIN api_keys k ON k.agent_id = a.id
ORDER BY h.n"""


@dataclass
class Write:
    """One write of the table: ``sql`` as its caller sends it, ``twin`` (with
    ``{t}`` for the twin's name) as the superuser writes the same row."""
    table: str
    label: str
    caller: str  # member, admin, service_role, key
    sql: str
    twin: str
    goal: float
    rows: str = "1"  # how many rows it writes: "1" or "batch"
    versus: str = "fk"  # what the goal is judged against: a twin, or another write's label
    measured: dict = field(default_factory=dict)


THREAD_COLUMNS = "id, house_id, agent_id, kind, status, title"
BATCH_THREADS = ("SELECT gen_random_uuid(), %(house)s, %(agent)s, 'chat', 'open', 'bench ' || g "
                 "FROM generate_series(1, %(batch)s) g")
WRITES = [
    Write("threads", "insert", "member",
          f"INSERT INTO threads ({THREAD_COLUMNS}) VALUES (gen_random_uuid(), %(house)s, %(agent)s, 'chat', 'open', 'bench')",
          f"INSERT INTO {{t}} ({THREAD_COLUMNS}, created_by) "
          "VALUES (gen_random_uuid(), %(house)s, %(agent)s, 'chat', 'open', 'bench', %(member)s)", 1.5),
    Write("threads", "update title", "member", "UPDATE threads SET title = 'renamed' WHERE id = %(thread)s",
          "UPDATE {t} SET title = 'renamed', updated_at = now() WHERE id = %(thread)s", 1.5),
    Write("threads", "soft delete", "member", "UPDATE threads SET deleted_at = now() WHERE id = %(thread2)s",
          "UPDATE {t} SET deleted_at = now(), updated_at = now() WHERE id = %(thread2)s", 1.5),
    Write("threads", "insert by agent key", "key",  # house_id comes from the agent (triggers/20_house_id.sql)
          "INSERT INTO threads (id, agent_id, kind, status, title) "
          "VALUES (gen_random_uuid(), %(agent)s, 'chat', 'open', 'bench')",
          f"INSERT INTO {{t}} ({THREAD_COLUMNS}) VALUES (gen_random_uuid(), %(house)s, %(agent)s, 'chat', 'open', 'bench')",
          1.1, versus="insert"),
    Write("members", "insert", SERVICE,
          "INSERT INTO members (id, house_id, user_id, role) VALUES (gen_random_uuid(), %(house)s, %(newcomer)s, 'member')",
          "INSERT INTO {t} (id, house_id, user_id, role) VALUES (gen_random_uuid(), %(house)s, %(newcomer)s, 'member')", 1.5),
    Write("members", "update role", "admin", "UPDATE members SET role = 'admin' WHERE id = %(promoted)s",
          "UPDATE {t} SET role = 'admin', updated_at = now() WHERE id = %(promoted)s", 1.5),
    Write("members", "soft delete", "admin", "UPDATE members SET deleted_at = now() WHERE id = %(removed)s",
          "UPDATE {t} SET deleted_at = now(), updated_at = now() WHERE id = %(removed)s", 1.5),
    Write("configs", "insert", "admin",
          """INSERT INTO configs (id, house_id, key, value) VALUES (gen_random_uuid(), %(house)s, 'bench', '{"on": true}')""",
          """INSERT INTO {t} (id, house_id, key, value) VALUES (gen_random_uuid(), %(house)s, 'bench', '{"on": true}')""", 1.5),
    Write("configs", "update", "admin", """UPDATE configs SET value = '{"on": false}' WHERE id = %(config)s""",
          """UPDATE {t} SET value = '{"on": false}', updated_at = now() WHERE id = %(config)s""", 1.5),
    Write("configs", "soft delete", "admin", "UPDATE configs SET deleted_at = now() WHERE id = %(config2)s",
          "UPDATE {t} SET deleted_at = now(), updated_at = now() WHERE id = %(config2)s", 1.5),
    Write("threads", "batch insert", "member", f"INSERT INTO threads ({THREAD_COLUMNS}) {BATCH_THREADS}",
          f"INSERT INTO {{t}} ({THREAD_COLUMNS}, created_by) {BATCH_THREADS.replace('g FROM', 'g, %(member)s FROM')}",
          2.0, rows="batch"),
    Write("members", "batch insert", SERVICE,
          "INSERT INTO members (id, house_id, user_id, role) "
          "SELECT gen_random_uuid(), %(house)s, u, 'member' FROM unnest(%(newcomers)s::uuid[]) u",
          "INSERT INTO {t} (id, house_id, user_id, role) "
          "SELECT gen_random_uuid(), %(house)s, u, 'member' FROM unnest(%(newcomers)s::uuid[]) u", 2.0, rows="batch"),
    Write("configs", "batch insert", "admin",
          """INSERT INTO configs (id, house_id, key, value) SELECT gen_random_uuid(), %(house)s, 'bench ' || g, '{"on": true}'
             FROM generate_series(1, %(batch)s) g""",
          """INSERT INTO {t} (id, house_id, key, value) SELECT gen_random_uuid(), %(house)s, 'bench ' || g, '{"on": true}'
             FROM generate_series(1, %(batch)s) g""", 2.0, rows="batch"),
]

console = Console(width=200)  # the table is the output: never wrap it


def make_twins(conn) -> None:
    """bench_twin.bare_<t> and bench_twin.fk_<t> for each twinned table, with its rows."""
    with conn.cursor() as cur:
        cur.execute("CREATE SCHEMA bench_twin")
        for t in TWINNED:
            for kind in ("bare", "fk"):
                cur.execute(f"CREATE TABLE bench_twin.{kind}_{t} (LIKE public.{t} INCLUDING ALL)")
                cur.execute(f"INSERT INTO bench_twin.{kind}_{t} SELECT * FROM public.{t}")
            fks = cur.execute("""SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
                                 WHERE conrelid = %s::regclass AND contype = 'f'""", (f"public.{t}",)).fetchall()
            for name, definition in fks:
                cur.execute(f'ALTER TABLE bench_twin.fk_{t} ADD CONSTRAINT "{name}" {definition}')
    conn.commit()


def load(conn, houses: int, threads: int, batch: int) -> tuple[list[dict], list]:
    load_world(conn, houses, threads, {}, configs_per_house=CONFIGS_PER_HOUSE)
    targets = conn.cursor(row_factory=psycopg.rows.dict_row).execute(TARGETS).fetchall()
    newcomers = [r[0] for r in conn.execute(
        "INSERT INTO auth.users (id) SELECT gen_random_uuid() FROM generate_series(1, %s) RETURNING id", (batch,))]
    conn.commit()
    make_twins(conn)
    vacuum_analyze(conn)
    return targets, newcomers


def identity(caller: str, target: dict) -> tuple[str, str]:
    if caller == SERVICE:
        return SERVICE, json.dumps({"role": SERVICE})
    if caller == "key":
        return AUTHENTICATED, json.dumps(key_claims(target["key"]))
    return AUTHENTICATED, json.dumps(user_claims(target[caller]))


def params(target: dict, newcomers: list, batch: int) -> dict:
    return {"house": target["house"], "agent": target["agent"], "member": target["member"],
            "thread": target["threads"][0], "thread2": target["threads"][1], "promoted": target["promoted"],
            "removed": target["removed"], "config": target["configs"][0], "config2": target["configs"][1],
            "newcomer": newcomers[0], "newcomers": newcomers, "batch": batch}


def variants(write: Write) -> dict[str, tuple]:
    """name → (caller or None for the superuser, statement)."""
    out = {"rls": (write.caller, write.sql),
           "bare": (None, write.twin.replace("{t}", f"bench_twin.bare_{write.table}")),
           "fk": (None, write.twin.replace("{t}", f"bench_twin.fk_{write.table}"))}
    if write.versus not in out:
        other = next(w for w in WRITES if w.table == write.table and w.label == write.versus)
        out[write.versus] = (other.caller, other.sql)
    return out


def execute(conn, caller, sql, target, p, clock):
    role, claims = identity(caller, target) if caller else (None, None)
    return run_once(conn, role, claims, sql, p, clock=clock, wal=True)


def check(conn, write: Write, targets: list[dict], newcomers: list, batch: int) -> None:
    """Each variant writes the rows it should: an UPDATE that RLS hides changes
    nothing and would time nothing."""
    want = batch if write.rows == "batch" else 1
    for name, (caller, sql) in variants(write).items():
        got = execute(conn, caller, sql, targets[0], params(targets[0], newcomers, batch), "client").rows
        if got != want:
            raise ArbedbError(f"write_path: {write.table} {write.label} ({name}, as {caller or 'superuser'}) wrote {got} "
                              f"rows, not {want}: the caller's rights or the bench's data changed; fix WRITES in "
                              "bench/write_path.py to match the schema")


def measure(conn, write: Write, targets: list[dict], newcomers: list, batch: int, repeat: int, slices: int,
            clock: str) -> None:
    """Fills ``write.measured``: per variant, its samples per slice."""
    check(conn, write, targets, newcomers, batch)
    names = list(variants(write))
    per_slice: dict[str, list[list]] = {n: [] for n in names}
    n_targets = len(targets)

    def runner(name: str, offset: int):
        caller, sql = variants(write)[name]

        def run(i: int):
            target = targets[(offset + i) % n_targets]
            return execute(conn, caller, sql, target, params(target, newcomers, batch), clock)
        return run

    for s in range(slices):
        offset = s * (repeat + 1)
        for name, samples in zip(names, interleaved(repeat, *(runner(n, offset) for n in names), numbered=True)):
            per_slice[name].append(samples)
    write.measured = per_slice


def median_seconds(samples) -> float:
    return statistics.median(x.seconds for x in samples)


def ratios(write: Write, a: str, b: str) -> list[float]:
    return [median_seconds(sa) / median_seconds(sb) for sa, sb in zip(write.measured[a], write.measured[b])]


def report(writes: list[Write], batch: int, clock: str) -> bool:
    table = Table(title=escape(f"Write path ({clock} clock): ratios of medians, median [min-max] over slices of "
                               "interleaved rounds"))
    for col in ("write", "caller", "÷ bare twin", "÷ FK twin", "÷ member's", "goal", "ms rls / FK / bare",
                "WAL B rls / FK / bare"):
        table.add_column(col, justify="right", no_wrap=True)
    worst, ok = None, True
    for w in writes:
        judged = ratios(w, "rls", w.versus)
        score = statistics.median(judged) / w.goal
        ok = ok and score <= 1
        if worst is None or score > worst[0]:
            worst = (score, w, statistics.median(judged))
        every = {n: [x for s in samples for x in s] for n, samples in w.measured.items()}
        ms = " / ".join(f"{median_seconds(every[n]) * 1000:.2f}" for n in ("rls", "fk", "bare"))
        wal = " / ".join(f"{statistics.median(x.wal_bytes for x in every[n]):,.0f}" for n in ("rls", "fk", "bare"))
        goal = f"÷ {'FK' if w.versus == 'fk' else 'member'} ≤ {w.goal}"
        label = f"{w.table} {w.label.replace('batch', f'batch of {batch:,}')}"
        table.add_row(label, w.caller, spread(ratios(w, "rls", "bare")), spread(ratios(w, "rls", "fk")),
                      "" if w.versus == "fk" else spread(judged), goal, ms, wal)
    console.print(table)
    score, w, value = worst
    against = "its FK twin" if w.versus == "fk" else f"a member's {w.versus}"
    console.print(f"\nworst: {w.table} {w.label} as {w.caller}, {value:.2f}× {against} (goal ≤ {w.goal}): "
                  f"{'within' if ok else 'OVER'} every goal")
    return ok


def where_time_goes(conn, writes: list[Write], targets: list[dict], newcomers: list, batch: int) -> None:
    """Per write, one run of its statement under EXPLAIN ANALYZE (timing on, so
    slower than measured): planning, execution and each trigger's share."""
    for w in writes:
        target = targets[-1]
        role, claims = identity(w.caller, target)
        with conn.transaction(force_rollback=True), conn.cursor() as cur:
            set_identity(cur, role, claims)
            plan = cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + w.sql, params(target, newcomers, batch)).fetchone()[0][0]
        triggers = sorted(plan.get("Triggers", []), key=lambda t: -t["Time"])
        console.print(f"{w.table} {w.label} as {w.caller}: planning {plan['Planning Time']:.2f} ms, execution "
                      f"{plan['Execution Time']:.2f} ms; triggers: " +
                      ", ".join(f"{t.get('Constraint Name', t['Trigger Name'])} {t['Time']:.2f} ms ({t['Calls']})" for t in triggers))


def run(dsn: str, houses: int, threads: int, batch: int, repeat: int, slices: int, clock: str,
        only: list[str], explain: bool) -> bool:
    with psycopg.connect(dsn) as conn:
        started = time.perf_counter()
        targets, newcomers = load(conn, houses, threads, batch)
        console.print(f"loaded {houses:,} houses, {threads:,} threads and their twins in {time.perf_counter() - started:.1f}s")
        chosen = [w for w in WRITES if not only or any(o in f"{w.table} {w.label}" for o in only)]
        for w in chosen:
            measure(conn, w, targets, newcomers, batch, repeat, slices, clock)
        ok = report(chosen, batch, clock)
        if explain:
            console.print("\nwhere the time goes, one EXPLAIN ANALYZE each (trigger, ms, calls):")
            where_time_goes(conn, chosen, targets, newcomers, batch)
        return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", help="a server to use (a database is created and dropped on it)")
    parser.add_argument("--houses", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000, help="rows per batch insert")
    parser.add_argument("--repeat", type=int, default=9, help="interleaved rounds per slice")
    parser.add_argument("--slices", type=int, default=3, help="slices of rounds, for the [min-max] of each ratio")
    parser.add_argument("--clock", choices=("client", "server"), default="client")
    parser.add_argument("--only", action="append", default=[], metavar="TEXT",
                        help="only the writes whose name contains TEXT ('members', 'batch', 'threads insert'); repeatable")
    parser.add_argument("--explain", action="store_true",
                        help="after the table, each write's planning, execution and trigger times (EXPLAIN ANALYZE)")
    args = parser.parse_args()
    if args.threads < 3 * args.houses:
        print(f"error: --threads {args.threads} is under 3 × --houses {args.houses}: give at least "
              f"{3 * args.houses} threads, each house needs two live threads to update", file=sys.stderr)
        return 2
    with migrated_database(args.dsn) as dsn:
        try:
            ok = run(dsn, args.houses, args.threads, args.batch, args.repeat, args.slices, args.clock, args.only, args.explain)
        except ArbedbError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
