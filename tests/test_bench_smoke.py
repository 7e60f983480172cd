"""The benchmarks still run: each at a tiny size on the test server, printing its tables.

Figures at this size mean nothing; what is checked is that a bench does not rot
as the schema changes (a renamed column, a caller who lost a right), and that
write_path.py refuses to time a write that writes nothing."""

from __future__ import annotations

import importlib
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from arbedb.errors import ArbedbError

BENCH = Path(__file__).resolve().parents[1] / "bench"


def bench(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True, timeout=120)


def test_write_path_prints_its_table(arbedb_cluster):
    done = bench("write_path.py", "--dsn", arbedb_cluster.admin_dsn, "--houses", "3", "--threads", "12",
                 "--batch", "5", "--repeat", "1", "--slices", "2", "--explain")
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode in (0, 1), done.stderr  # 1: over a goal, which today every write is
    for row in ("threads insert", "threads insert by agent", "members update role", "configs soft delete",
                "members batch of 5"):
        assert row in done.stdout
    assert any(line.startswith("worst: ") for line in done.stdout.splitlines())
    assert "members batch insert as service_role: planning" in done.stdout  # --explain


def test_rls_overhead_prints_its_tables(arbedb_cluster):
    done = bench("rls_overhead.py", "--dsn", arbedb_cluster.admin_dsn, "--houses", "5", "--live-houses", "5",
                 "--threads", "50", "--repeat", "1")
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode in (0, 1), done.stderr
    for title in ("RLS overhead", "houses and members", "Smallest reads", "Agent key", "rows: (k) 1, (l) 9, (m) 10"):
        assert title in done.stdout
    assert "worst user read" in done.stdout.splitlines()[-1]


def test_identity_cpu_prints_every_row(arbedb_dsn):
    done = bench("identity_cpu.py", "--dsn", arbedb_dsn, "--houses", "5", "--threads", "50", "--repeat", "2",
                 "--rounds", "1")
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stderr
    for row in ("(k) caller in 1 ", "(m) caller in 1000", "(i) agent key shape", "key thread insert",
                "member batch of 200 threads"):
        assert row in done.stdout
    assert done.stdout.splitlines()[-1].startswith("load average")


def test_write_path_refuses_bad_sizes():
    done = bench("write_path.py", "--houses", "10", "--threads", "10")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: --threads 10 is under 3 × --houses 10: give at least 30 threads, each house needs two live threads "
        "to update"]


@pytest.fixture
def common():
    sys.path.insert(0, str(BENCH))
    try:
        yield importlib.import_module("common")
    finally:
        sys.path.remove(str(BENCH))


@pytest.mark.parametrize("role", [None, "authenticated"])
def test_run_once_acts_with_the_claims_given(common, arbedb_dsn, role):
    """With or without a role: rls_overhead's (c) runs as the superuser with a caller's claims."""
    claims = '{"sub": "00000000-0000-0000-0000-000000000001", "role": "authenticated"}'
    is_set = "SELECT 1 WHERE current_setting('request.jwt.claims', true) = %(claims)s"
    with psycopg.connect(arbedb_dsn) as conn:
        assert common.run_once(conn, role, claims, is_set, {"claims": claims}).rows == 1
        assert common.run_once(conn, role, None, is_set, {"claims": claims}).rows == 0


@pytest.fixture
def write_path():
    sys.path.insert(0, str(BENCH))
    try:
        yield importlib.import_module("write_path")
    finally:
        sys.path.remove(str(BENCH))


def test_write_path_refuses_a_write_that_writes_nothing(write_path, arbedb_dsn):
    """A member's UPDATE of a thread RLS hides from them changes no row: timing it
    would time nothing, so the bench stops with one line saying which write."""
    with psycopg.connect(arbedb_dsn) as conn:
        targets, newcomers = write_path.load(conn, 2, 6, 3)
        update = next(w for w in write_path.WRITES if w.label == "update title")
        write_path.check(conn, update, targets, newcomers, 3)  # allowed: the member's own house
        elsewhere = replace(update, sql="UPDATE threads SET title = 'renamed' WHERE house_id <> %(house)s")
        with pytest.raises(ArbedbError, match=r"threads update title \(rls, as member\) wrote 0 rows, not 1"):
            write_path.check(conn, elsewhere, targets, newcomers, 3)
