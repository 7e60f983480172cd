"""`arbedb rls-test`: the property against any database, or every mutant against scratch copies;
and either run as a report, for `--format json` and `--junit`."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..config import Project
from ..db import connect
from ..errors import ArbedbError, first_line
from ..findings import Finding
from ..permissions import Permissions, load_permissions
from ..reporting import Check, Report
from .checks import Disagreement, run
from .mutants import derive, run_mutants


@dataclass
class PropertyResult:
    examples: int
    seconds: float


def property_test(dsn: str, perms: Permissions, *, examples: int, seed_value: int, on_example=None, on_found=None,
                  shrink_seconds: float | None = None) -> PropertyResult:
    """Run the property on ``dsn`` (at head) against the project's declarations; every world
    is rolled back, nothing stays. ``on_found``, ``shrink_seconds``: see checks.run."""
    with connect(dsn):  # unreachable: say so in one line, not as a failed world
        pass
    started = time.perf_counter()
    count = [0]

    def tick():
        count[0] += 1
        if on_example:
            on_example()

    try:
        run(dsn, perms, examples=examples, seed_value=seed_value, on_example=tick, on_found=on_found,
            shrink_seconds=shrink_seconds)
    except (Disagreement, ArbedbError):
        raise
    except Exception as exc:  # the database could not even run a world
        first = first_line(exc)
        raise ArbedbError(f"rls-test could not run on this database ({first}); is it at head? run `arbedb apply`")
    return PropertyResult(count[0], time.perf_counter() - started)


def mutation_test(project: Project, admin_dsn: str | None, *, examples: int, seed_value: int, jobs: int | None,
                  on_start=None, on_verdict=None):
    """Every mutant of the project's security SQL on a scratch clone of a freshly
    migrated template on ``admin_dsn``'s server (else a throwaway local one)."""
    from ..testing.cluster import TestCluster

    if admin_dsn:
        with connect(admin_dsn) as conn:
            if not conn.execute("SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0]:
                raise ArbedbError("rls-test --mutate makes scratch databases, and this role may not CREATE DATABASE; "
                                  "pass a --dsn whose role may, or no --dsn for a throwaway local server")
    perms = load_permissions(project)
    mutants = derive(project, perms)
    if on_start:
        on_start(len(mutants))
    cluster = TestCluster(admin_dsn)
    try:
        template = cluster.create_template(project)
        try:
            return run_mutants(cluster.admin_dsn, template, mutants, perms, examples=examples, seed_value=seed_value,
                               jobs=jobs, on_verdict=on_verdict, project=project)
        finally:
            cluster.drop_database(template)
    finally:
        cluster.close()


def property_report(examples: int, seed_value: int, result: PropertyResult | None, disagreement: str | None) -> Report:
    """The property run as a report (`--format json`, `--junit`): one check, failed on a disagreement."""
    found = () if disagreement is None else (Finding(
        code="rls:disagreement", object="database", message=f"RLS disagrees with the model: {disagreement}",
        fix="correct the policy or the declaration in the permissions file; rerun with the same --seed"),)
    summary = {"worlds": result.examples if result else examples, "seed": seed_value}
    if result:
        summary["seconds"] = round(result.seconds, 2)
    return Report("arbedb rls-test", list(found), summary, checks=(Check("property", found),))


def mutation_report(verdicts, seed_value: int) -> Report:
    """Every mutant as a check of its own: a survivor is its failure."""
    checks = tuple(Check(v.mutant.name, () if v.killed else (Finding(
        code="rls:mutant-survived", object=v.mutant.name,
        message=f"mutant of {v.mutant.source} survived: {v.reason}",
        fix="strengthen the checks or the worlds (tooling/arbedb/rls/) so this change is noticed"),))
        for v in verdicts)
    survivors = [f for c in checks for f in c.findings]
    return Report("arbedb rls-test --mutate", survivors,
                  {"mutants": len(checks), "killed": len(checks) - len(survivors), "seed": seed_value}, checks=checks)
