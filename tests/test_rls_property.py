"""The RLS property (arbedb.rls) on the project's own schema, CI-sized and reproducible:
a fixed seed and no hypothesis example database, so every run draws the same worlds."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from arbedb.engine.catalog import snapshot
from arbedb.rls.checks import Disagreement, run
from conftest import PERMS

EXAMPLES = int(os.environ.get("ARBEDB_RLS_EXAMPLES", "60"))
SEED = 20261129


def test_database_agrees_with_the_model_on_generated_worlds(arbedb_dsn):
    count = []
    run(arbedb_dsn, PERMS, examples=EXAMPLES, seed_value=SEED, on_example=lambda: count.append(1))
    assert len(count) == EXAMPLES


def _break(dsn: str, statement: str) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(statement)


def test_a_broken_policy_is_caught_and_reported_readably(arbedb_dsn):
    """The twin: the same property on a database whose threads policy lets every
    authenticated caller read every thread must fail, naming caller and table."""
    _break(arbedb_dsn, "ALTER POLICY threads_select ON public.threads USING (true)")
    with pytest.raises(Disagreement, match=r"SELECT threads: database shows .* model says"):
        run(arbedb_dsn, PERMS, examples=EXAMPLES, seed_value=SEED, shrink=False)


def test_a_failure_shrinks_to_a_small_world_and_prints_it(arbedb_dsn):
    """Only the systematic sweep's UPDATE-without-WHERE sees this mutant, so the
    failing world must replay exactly while hypothesis shrinks it (what a world
    does follows from its draws alone); the report is the shrunk world."""
    _break(arbedb_dsn, "ALTER POLICY threads_update ON public.threads USING (true)")
    with pytest.raises(Disagreement) as caught:
        run(arbedb_dsn, PERMS, examples=EXAMPLES, seed_value=SEED)
    first, *world = str(caught.value).splitlines()
    assert "UPDATE threads (no WHERE) touched" in first
    assert world[0] == "world at the disagreement:"
    assert any(line.startswith("  user0 = ") for line in world)
    assert any(line.startswith("    threads#0 = ") for line in world)
    users = [line for line in world if line.startswith("  user")]
    assert len(users) <= 2, f"not shrunk: {users}"


def _row_counts(dsn: str) -> dict:
    with psycopg.connect(dsn) as conn:
        counts = {t: conn.execute(f"SELECT count(*) FROM public.{t}").fetchone()[0] for t in PERMS.names}
        counts["auth.users"] = conn.execute("SELECT count(*) FROM auth.users").fetchone()[0]
        counts["roles"] = conn.execute("SELECT array_agg(rolname ORDER BY rolname) FROM pg_roles").fetchone()[0]
        return counts | {"catalog": snapshot(conn, detail=True)}


def _rls_test(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "arbedb.cli", "rls-test", *args],
                          capture_output=True, text=True, timeout=300)


def test_cli_runs_against_a_dsn_and_leaves_nothing_behind(arbedb_dsn):
    before = _row_counts(arbedb_dsn)
    proc = _rls_test("--dsn", arbedb_dsn, "--examples", "5", "--seed", "3")
    assert proc.returncode == 0, proc.stderr
    assert "5 worlds, database and model agree" in proc.stdout
    assert _row_counts(arbedb_dsn) == before


def test_cli_exits_1_with_the_disagreement_and_the_world(arbedb_dsn):
    _break(arbedb_dsn, "ALTER POLICY members_select ON public.members USING (true)")
    proc = _rls_test("--dsn", arbedb_dsn, "--examples", "20")
    assert proc.returncode == 1
    assert proc.stderr.startswith("arbedb: error: RLS disagrees with the model: ")
    assert "SELECT members" in proc.stderr.splitlines()[0]
    assert "world at the disagreement:" in proc.stderr


@pytest.mark.parametrize("mutate", [(), ("--mutate",)])
def test_cli_unreachable_database_is_one_line(mutate):
    proc = _rls_test(*mutate, "--dsn", "postgresql://nobody@127.0.0.1:1/nowhere", "--examples", "1")
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("arbedb: error: cannot connect to the database")


def test_cli_without_temp_privilege_is_one_line_that_says_what_to_grant(arbedb_dsn):
    """The probes run in a temporary function: a role that may not create temporary
    objects gets told so, not a failed world."""
    with psycopg.connect(arbedb_dsn, autocommit=True) as conn:
        db = conn.execute("SELECT current_database()").fetchone()[0]
        conn.execute(f'REVOKE TEMPORARY ON DATABASE "{db}" FROM PUBLIC')
        conn.execute("CREATE ROLE arbedb_no_temp NOLOGIN")
        conn.execute("GRANT anon, authenticated, service_role TO arbedb_no_temp")
    try:
        limited = make_conninfo(arbedb_dsn, options="-c role=arbedb_no_temp")
        proc = _rls_test("--dsn", limited, "--examples", "1")
        assert proc.returncode == 1, proc.stderr
        assert proc.stderr.count("\n") == 1, proc.stderr
        assert proc.stderr.startswith("arbedb: error: the probes run in a temporary function")
        assert f"GRANT TEMPORARY ON DATABASE {db} TO arbedb_no_temp" in proc.stderr
    finally:
        with psycopg.connect(arbedb_dsn, autocommit=True) as conn:
            conn.execute("DROP OWNED BY arbedb_no_temp")
            conn.execute("DROP ROLE arbedb_no_temp")


def test_cli_reports_a_statement_that_errors_as_a_disagreement(arbedb_dsn, arbedb_project):
    """A schema that makes a caller's statement fail (a key id that is no uuid cast
    instead of being nobody) disagrees with the model; it is not "is it at head?"."""
    from arbedb.rls.mutants import derive

    mutant = next(m for m in derive(arbedb_project, PERMS) if m.name.endswith("a malformed key id is cast (an error, not nobody)"))
    _break(arbedb_dsn, mutant.sql)
    proc = _rls_test("--dsn", arbedb_dsn, "--examples", "3")
    assert proc.returncode == 1
    first = proc.stderr.splitlines()[0]
    assert first.startswith("arbedb: error: RLS disagrees with the model: a statement failed (22P02"), first
    assert "arbedb apply" not in proc.stderr
    assert "world at the disagreement:" in proc.stderr
