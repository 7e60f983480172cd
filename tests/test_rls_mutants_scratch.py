"""rls/mutants.py runs every mutant inside its property run's transaction, on one scratch
clone per worker: what one mutant changed is gone before the next runs there."""

from __future__ import annotations

import pytest

from arbedb.errors import ArbedbError
from arbedb.rls.mutants import Mutant, run_mutants
from conftest import PERMS

HOLE = Mutant("threads readable by all", "ALTER POLICY threads_select ON public.threads USING (true);", "t")
HARMLESS = Mutant("a comment", "COMMENT ON TABLE public.threads IS 'changed';", "t")


def test_one_worker_runs_a_hole_then_a_harmless_change_on_the_same_clone(arbedb_cluster, arbedb_template):
    """One job: both on one clone, the hole first. Were it not rolled back, the harmless
    change would be killed by the hole's disagreement."""
    verdicts = run_mutants(arbedb_cluster.admin_dsn, arbedb_template, [HOLE, HARMLESS], PERMS, examples=1,
                           seed_value=0, jobs=1)
    assert [(v.mutant.name, v.killed) for v in verdicts] == [("a comment", False), ("threads readable by all", True)]


def test_a_mutant_that_does_not_apply_is_an_error_not_a_kill(arbedb_cluster, arbedb_template):
    stale = Mutant("a policy that is gone", "ALTER POLICY no_such_policy ON public.threads USING (true);", "t")
    with pytest.raises(ArbedbError, match=r"mutant 'a policy that is gone' \(t\) does not apply: 42704"):
        run_mutants(arbedb_cluster.admin_dsn, arbedb_template, [stale], PERMS, examples=1, seed_value=0, jobs=1)
