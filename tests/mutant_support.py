"""Running a named set of the project's mutants and holding each verdict to the words its
disagreement must contain: one helper for every test of a class of mutants."""

from __future__ import annotations

from arbedb.rls.mutants import derive, run_mutants
from conftest import PERMS


def assert_killed_with(cluster, template, project, wanted: dict[str, str], examples: int = 2) -> None:
    """Every mutant named in ``wanted`` is derived, killed, and its reason contains its text
    (run_mutants runs the unmutated schema beside them and stops if that fails)."""
    mutants = [m for m in derive(project, PERMS) if m.name in wanted]
    assert {m.name for m in mutants} == set(wanted), set(wanted) - {m.name for m in mutants}
    verdicts = run_mutants(cluster.admin_dsn, template, mutants, PERMS, examples=examples, seed_value=0, jobs=2)
    for verdict in verdicts:
        assert verdict.killed, f"{verdict.mutant.name} survived: {verdict.reason}"
        assert wanted[verdict.mutant.name] in verdict.reason, (verdict.mutant.name, verdict.reason)
