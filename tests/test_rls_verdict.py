"""Time to a verdict (rls/verdict.py): the first disagreement is shown the moment a world
shows it, before hypothesis shrinks it, and the shrinking stops at its bound."""

from __future__ import annotations

import subprocess
import sys
import time

import psycopg
import pytest

from arbedb.rls.checks import Disagreement, run
from arbedb.rls.mutants import derive
from arbedb.rls.verdict import Shrinking
from conftest import PERMS

SEED = 20261129  # tests/test_rls_property.py's: the deleted-house invite below shows in world 3, not 1
STOPPED = "(shrinking stopped after"


def _break(dsn: str, statement: str) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(statement)


def _mutant(project, ending: str) -> str:
    return next(m.sql for m in derive(project, PERMS) if m.name.endswith(ending))


def _users(message: str) -> int:
    return sum(line.startswith("  user") for line in message.splitlines())


def test_the_disagreement_is_shown_before_shrinking_and_the_report_is_the_shrunk_world(arbedb_dsn, arbedb_project):
    """Found in a drawn world of several users; shown as found (with all of them);
    unbounded, hypothesis then shrinks it and the error names the smaller world."""
    _break(arbedb_dsn, _mutant(arbedb_project, "invites to deleted houses accepted"))
    found = []
    with pytest.raises(Disagreement) as caught:
        run(arbedb_dsn, PERMS, examples=60, seed_value=SEED, on_found=lambda *a: found.append(a))
    assert len(found) == 1
    message, world, seconds = found[0]
    assert "lookup_invite" in message.splitlines()[0] and "world at the disagreement:" in message
    assert world > 1 and seconds > 0
    assert _users(str(caught.value)) < _users(message), "the error should name the shrunk world, the notice the found one"
    assert STOPPED not in str(caught.value)


def test_shrinking_stops_at_its_bound(arbedb_dsn, arbedb_project):
    """Bound 0: no smaller world is tried at all; the error is the world as found, and says
    why. Bound 1 s: the run ends within one world's time past it."""
    _break(arbedb_dsn, _mutant(arbedb_project, "invites to deleted houses accepted"))
    found = []
    with pytest.raises(Disagreement) as caught:
        run(arbedb_dsn, PERMS, examples=60, seed_value=SEED, shrink_seconds=0,
            on_found=lambda *a: found.append((time.perf_counter(), *a)))
    assert str(caught.value).startswith(found[0][1]) and STOPPED in str(caught.value).splitlines()[-1]
    found.clear()
    with pytest.raises(Disagreement) as caught:
        run(arbedb_dsn, PERMS, examples=60, seed_value=SEED, shrink_seconds=1,
            on_found=lambda *a: found.append((time.perf_counter(), *a)))
    after = time.perf_counter() - found[0][0]
    assert after < 1 + 10, f"shrinking went on for {after:.1f}s past a 1 s bound"
    assert "lookup_invite" in str(caught.value).splitlines()[0]


def test_cli_prints_a_widened_insert_check_when_found_and_then_the_bounded_verdict(arbedb_dsn):
    """The widened INSERT check of issue 19: the CLI prints the disagreement on stdout as
    soon as it is found, then exits 1 with the (shrunk) world on stderr, within the bound."""
    _break(arbedb_dsn, "ALTER POLICY threads_insert ON public.threads WITH CHECK (true)")
    proc = subprocess.Popen([sys.executable, "-m", "arbedb.cli", "rls-test", "--dsn", arbedb_dsn, "--examples", "60",
                             "--seed", str(SEED), "--shrink-seconds", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        shown = time.perf_counter()
        rest = proc.stdout.read()  # (not communicate(): it would skip what readline buffered)
        err = proc.stderr.read()
        proc.wait(timeout=300)
    finally:
        proc.kill()
    ended = time.perf_counter()
    assert first.startswith("disagreement found in world ") and "--shrink-seconds" in first, first
    assert "INSERT threads" in rest.splitlines()[0] and "model says refuse" in rest.splitlines()[0]
    assert proc.returncode == 1
    assert err.startswith("arbedb: error: RLS disagrees with the model: ") and "INSERT threads" in err.splitlines()[0]
    assert "world at the disagreement:" in err
    assert ended - shown < 2 + 15, f"{ended - shown:.1f}s from the first notice to the verdict, bound 2 s"


def test_the_budget_alone():
    """Without a database: the notice once, at the first failure; the bound counted from it."""
    now = [0.0]
    seen = []
    budget = Shrinking(5, on_found=lambda *a: seen.append(a), clock=lambda: now[0])
    budget.before_world()
    now[0] = 3.0
    budget.before_world()
    budget.failed("first")
    now[0] = 7.9
    budget.before_world()  # 4.9 s after the failure: one more world
    budget.failed("smaller")
    assert seen == [("first", 2, 3.0)]
    now[0] = 8.0

    def test():
        budget.before_world()

    with pytest.raises(Disagreement, match=r"^smaller\n\(shrinking stopped after 5 s"):
        budget.run(test, Disagreement)
    unbounded = Shrinking(None, clock=lambda: now[0])
    unbounded.failed("x")
    now[0] = 1e9
    unbounded.before_world()
