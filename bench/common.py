"""What every benchmark here does the same way: a freshly migrated scratch
database, a world bulk-loaded into it, and timings measured interleaved
(A, B, A, B, …) so that drift on a shared machine hits every side alike."""

from __future__ import annotations

import statistics
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tooling"))

from arbedb.commands import apply  # noqa: E402
from arbedb.config import find_project  # noqa: E402
from arbedb.testing.cluster import TestCluster  # noqa: E402
from arbedb.testing.impersonate import set_identity  # noqa: E402


@contextmanager
def migrated_database(dsn: str | None):
    """A database at head, created (and dropped) on ``dsn``'s server, else on a
    throwaway embedded one; yields its DSN."""
    cluster = TestCluster(dsn)
    try:
        with cluster.database() as db:
            apply(find_project(Path(__file__).resolve().parent), db)
            yield db
    finally:
        cluster.close()


def interleaved(repeat: int, *runs, numbered: bool = False) -> list[list]:
    """What each of ``runs`` returns over ``repeat`` interleaved rounds, after
    one warm-up round; one list of results per run. ``numbered``: each run is
    called with the round's number (0 for the warm-up), so that a round can
    act on rows no earlier round touched."""
    results: list[list] = [[] for _ in runs]
    for i in range(repeat + 1):
        for run, out in zip(runs, results):
            result = run(i) if numbered else run()
            if i:
                out.append(result)
    return results


def interleaved_medians(repeat: int, a, b) -> tuple[float, float]:
    """Medians of ``a()`` and ``b()`` (each returns seconds) over ``repeat``
    interleaved runs, after one warm-up of each."""
    ta, tb = interleaved(repeat, a, b)
    return statistics.median(ta), statistics.median(tb)


@dataclass
class Sample:
    seconds: float
    wal_bytes: int | None = None
    rows: int | None = None


def run_once(conn, role: str | None, claims: str | None, sql: str, params: dict, *,
             before: str | None = None, clock: str = "client", wal: bool = False) -> Sample:
    """One statement as the caller (``role`` None: the connecting superuser), in
    a transaction that is always rolled back, so rounds do not drift.

    clock "client": wall time around the statement, round trip included;
    "server": planning + execution as EXPLAIN ANALYZE (TIMING OFF) reports them,
    triggers and foreign-key checks included, without the round trip, the
    client or the parse. ``wal``: the WAL the statement wrote (insert-position
    difference; the commit record, the same for every statement, is not in it)."""
    with conn.transaction(force_rollback=True), conn.cursor() as cur:
        if before:
            cur.execute(before)
        if role:
            set_identity(cur, role, claims)
        elif claims:  # the superuser acting with a caller's claims, as rls_overhead's (c) does
            cur.execute("SELECT set_config('request.jwt.claims', %s, true)", (claims,))
        lsn = cur.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0] if wal else None
        if clock == "server":
            cur.execute("EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON, FORMAT JSON) " + sql, params)
            report = cur.fetchone()[0][0]
            sample = Sample((report["Planning Time"] + report["Execution Time"]) / 1000)
        else:
            started = time.perf_counter()
            cur.execute(sql, params)
            if cur.description:
                cur.fetchall()
            sample = Sample(time.perf_counter() - started, rows=cur.rowcount)
        if wal:
            sample.wal_bytes = int(cur.execute("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s)",
                                               (lsn,)).fetchone()[0])
        return sample


def timed(conn, role: str | None, claims: str | None, sql: str, params: dict, before: str | None = None) -> float:
    return run_once(conn, role, claims, sql, params, before=before).seconds


def load_world(conn, n_houses: int, n_threads: int, callers: dict[int, int], *, configs_per_house: int = 0
               ) -> dict[int, uuid.UUID]:
    """Bulk-load a world with triggers off (session_replication_role), then analyse.

    Houses 'house 1' … 'house n', five users each (an owner, an admin, three
    members: of user number u, u % 5 = 0 owns, 1 administers); two agents per
    house, each with an API key; ``n_threads`` threads spread evenly over the
    houses, alternating between its agents, 10% soft-deleted (each house's first);
    ``configs_per_house`` house-wide configs 'key 1' …; thread ids registered as
    triggers/27_thread_ids.sql would. ``callers`` maps a name to a number of
    houses: each is a user who is a member of houses 1 … that number; returns
    their ids by name."""
    ids = {name: uuid.uuid4() for name in callers}
    with conn.cursor() as cur:
        cur.execute("SET session_replication_role = replica")
        cur.execute("""
            CREATE TEMP TABLE h AS SELECT gen_random_uuid() AS id, g AS n FROM generate_series(1, %s) g""",
                    (n_houses,))
        cur.execute("INSERT INTO houses (id, house_id, name) SELECT id, id, 'house ' || n FROM h")
        cur.execute("""
            CREATE TEMP TABLE u AS SELECT gen_random_uuid() AS id, g AS n FROM generate_series(1, %s) g""",
                    (n_houses * 5,))
        cur.execute("INSERT INTO auth.users (id) SELECT id FROM u")
        cur.execute("""
            INSERT INTO members (house_id, user_id, role)
            SELECT h.id, u.id, CASE u.n % 5 WHEN 0 THEN 'owner' WHEN 1 THEN 'admin' ELSE 'member' END
            FROM u JOIN h ON h.n = (u.n - 1) / 5 + 1""")
        for name, k in callers.items():
            cur.execute("INSERT INTO auth.users (id) VALUES (%s)", (ids[name],))
            cur.execute("INSERT INTO members (house_id, user_id, role) SELECT id, %s, 'member' FROM h WHERE n <= %s",
                        (ids[name], k))
        cur.execute("""
            CREATE TEMP TABLE a AS SELECT gen_random_uuid() AS id, h.id AS house_id, h.n, k
            FROM h CROSS JOIN generate_series(0, 1) k""")
        cur.execute("INSERT INTO agents (id, house_id, name, kind) SELECT id, house_id, 'agent ' || k, 'coder' FROM a")
        cur.execute("""
            INSERT INTO threads (house_id, agent_id, kind, status, title, deleted_at)
            SELECT h.id, a.id, 'chat', 'open', 'thread ' || g,
                   CASE WHEN (g / %s) %% 10 = 0 THEN now() END
            FROM generate_series(0, %s - 1) g JOIN h ON h.n = g %% %s + 1
            JOIN a ON a.house_id = h.id AND a.k = (g / %s) %% 2""", (n_houses, n_threads, n_houses, n_houses))
        cur.execute("INSERT INTO arbe_private.thread_ids (id, house_id) SELECT id, house_id FROM threads")
        cur.execute("""
            INSERT INTO api_keys (id, house_id, agent_id, name, prefix)
            SELECT gen_random_uuid(), house_id, id, 'bench', 'bench' || n || k FROM a""")
        cur.execute("""
            INSERT INTO configs (house_id, key, value)
            SELECT h.id, 'key ' || g, '{"on": true}' FROM h CROSS JOIN generate_series(1, %s) g""",
                    (configs_per_house,))
        cur.execute("SET session_replication_role = origin")
    conn.commit()
    vacuum_analyze(conn)
    return ids


def vacuum_analyze(conn) -> None:
    conn.autocommit = True
    conn.execute("VACUUM ANALYZE")
    conn.autocommit = False


def spread(values: list[float]) -> str:
    """``median [min-max]`` of ratios, as the tables print them."""
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.median(values):.2f} [{min(values):.2f}-{max(values):.2f}]"
