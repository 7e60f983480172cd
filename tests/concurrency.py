"""The two-connection harness, for the tests: it lives in the package
(arbedb.rls.races), since `rls-test --mutate` runs the same races against the lock
mutants; the scenarios are arbedb.rls.race_scenarios."""

from arbedb.rls.races import LEVELS, PAIRS, RETRYABLE, Outcome, Step, overlap, races_broken  # noqa: F401
