"""Two real transactions against one database, in a chosen order, at chosen
isolation levels: the harness for the races the schema must serialise (the
scenarios are in race_scenarios.py; the project's tests and `rls-test --mutate`
run the same ones).

    outcome = overlap(dsn, first, second, ("read committed", "serializable"))

Both transactions begin (and, at REPEATABLE READ or SERIALIZABLE, take their
snapshots) before either writes. Then, with ``order="wait"``, the first runs its
statement and holds its transaction open while the second runs its own in a
thread; the harness watches pg_blocking_pids until the second is blocked by the
first (or has finished without waiting), and only then commits the first. With
``order="stale"`` the first commits before the second even starts its
statement, so the second acts on a snapshot older than the first's commit.

Nothing waits on a clock to order the two: each step starts once the previous
one is observed. Every wait is bounded (lock_timeout, statement_timeout, join
timeouts), so a broken guard fails a test instead of hanging it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import psycopg
from psycopg import IsolationLevel

from ..testing.impersonate import set_identity

LEVELS = {"read committed": IsolationLevel.READ_COMMITTED, "repeatable read": IsolationLevel.REPEATABLE_READ,
          "serializable": IsolationLevel.SERIALIZABLE}
PAIRS = [(a, b) for a in LEVELS for b in LEVELS]  # all nine
# Errors a guard may answer a race with: its own refusal, or PostgreSQL's
# serialization failure / deadlock detection (the client retries those).
RETRYABLE = {"40001", "40P01"}
TIMEOUTS = "-c lock_timeout=10s -c statement_timeout=20s"


@dataclass(frozen=True)
class Step:
    """One caller's statement: the database role and JWT claims it runs with."""
    role: str
    claims: dict | None
    sql: str
    params: tuple = ()


@dataclass
class Outcome:
    first: str  # "ok" or the SQLSTATE the transaction failed with
    second: str
    second_waited: bool  # the second was observed blocked by the first

    @property
    def any_ok(self) -> bool:
        return "ok" in (self.first, self.second)


class _Transaction:
    def __init__(self, dsn: str, level: str, step: Step):
        self.conn = psycopg.connect(dsn, options=TIMEOUTS)
        self.conn.isolation_level = LEVELS[level]
        self.step = step
        self.result: str | None = None
        set_identity(self.conn.cursor(), step.role, step.claims)  # the snapshot, at RR and SERIALIZABLE

    def run(self, commit: bool) -> None:
        try:
            self.conn.execute(self.step.sql, self.step.params)
            if commit:
                self.conn.commit()
            self.result = "ok"
        except psycopg.Error as exc:
            self.conn.rollback()
            self.result = exc.sqlstate or type(exc).__name__

    def commit(self) -> None:
        if self.result == "ok":
            try:
                self.conn.commit()
            except psycopg.Error as exc:  # SERIALIZABLE may refuse at commit
                self.conn.rollback()
                self.result = exc.sqlstate or type(exc).__name__


def overlap(dsn: str, first: Step, second: Step, levels: tuple[str, str], order: str = "wait") -> Outcome:
    one, two = _Transaction(dsn, levels[0], first), _Transaction(dsn, levels[1], second)
    try:
        waited = False
        if order == "stale":
            one.run(commit=True)
            two.run(commit=True)
        else:
            one.run(commit=False)
            thread = threading.Thread(target=two.run, args=(True,))
            thread.start()
            waited = _blocked(dsn, two.conn.info.backend_pid, one.conn.info.backend_pid, thread)
            one.commit()
            thread.join(30)
            if thread.is_alive():
                raise RuntimeError("the second transaction did not finish after the first committed")
        return Outcome(one.result, two.result, waited)
    finally:
        one.conn.close()
        two.conn.close()


def _blocked(dsn: str, pid: int, by: int, thread: threading.Thread, timeout: float = 10.0) -> bool:
    """Whether ``pid`` is seen waiting on a lock held by ``by`` before its thread ends."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(dsn, autocommit=True) as watch:
        while thread.is_alive() and time.monotonic() < deadline:
            if watch.execute("SELECT %s = ANY(pg_blocking_pids(%s))", (by, pid)).fetchone()[0]:
                return True
            time.sleep(0.005)  # polling an observation, not ordering by the clock
    return False


def races_broken(dsn: str, make, stale, order: str, allowed: set[str], waits_on: str | None,
                 *, stop: bool = False) -> list[str]:
    """At every pair of levels: ``make()`` builds a fresh world and returns its two
    steps, in the order to run them, and what ``stale()`` takes; the race must end
    with one success at least, no outcome outside ``allowed`` (plus the retryable
    ones), nothing ``stale()`` reports, and, in order "wait" with ``waits_on``, the
    second writer seen waiting on the first. Returns what broke, one line per pair
    of levels (with ``stop``, the first only)."""
    broken = []
    for levels in PAIRS:
        first, second, world = make()
        got = overlap(dsn, first, second, levels, order)
        left = stale(world)
        if left or not got.any_ok or not {got.first, got.second} <= allowed | RETRYABLE:
            broken.append(f"{levels}: {got}; left wrong: {left}")
        if waits_on and order == "wait" and got.first == "ok" and not got.second_waited:
            broken.append(f"{levels}: the second writer did not wait on the {waits_on}: {got}")
        if stop and broken:
            break
    return broken
