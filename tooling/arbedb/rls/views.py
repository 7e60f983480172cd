"""What `rls-test --mutate` checks beside the property: what is not a caller's view.

The property acts as callers in one transaction, so it cannot see the bytes the
sealing stores (sealing.py), what the `electric` role may do (electric_grants.py),
or what only two transactions at once show (race_scenarios.py). Each mutant of
the security SQL faces the first two (cheap, rolled back); the lock mutants and
the unmutated schema face the races too, which commit their worlds and so run
before the property gets a clone of its own.
"""

from __future__ import annotations

import dataclasses

import psycopg

from ..config import Project
from ..errors import first_line
from . import electric_grants, lock_mutants, race_scenarios, sealing


def unseen(dsn: str, project: Project, electric_role: str | None = None, setup: str | None = None) -> str | None:
    """The first thing wrong with the sealing or the electric role, or None; ``setup`` (a
    mutant) is applied first, in the same transaction, and rolled back with it (a mutant
    that does not apply raises checks.SetupFailed)."""
    from .checks import apply_setup

    if electric_role:
        project = dataclasses.replace(project, extra={**project.extra, "electric_role": electric_role})
    with psycopg.connect(dsn) as conn, conn.transaction(force_rollback=True):
        apply_setup(conn, setup)
        try:
            with conn.transaction():
                sealing.check(conn)
                electric_grants.check(conn, project)
        except (sealing.Unseen, psycopg.Error) as exc:
            return first_line(exc)[:300]
    return None


def race_broken(dsn: str, groups: tuple[str, ...]) -> str | None:
    """The first race of ``groups`` that breaks, or None; the worlds stay committed."""
    try:
        race_scenarios.check(dsn, groups)
    except Exception as exc:  # a race that cannot even run is broken too
        return first_line(exc)[:300]
    return None


def mutants(project: Project, sources) -> list:
    """The mutants only these views see: the electric role's, and the lock mutants
    (``sources`` as lock_mutants.lock_mutants takes them). The sealing's are curated
    function mutations (sealing.MUTATIONS), derived with mutants.FUNCTION_MUTATIONS."""
    return electric_grants.mutants(project) + lock_mutants.lock_mutants(sources)

