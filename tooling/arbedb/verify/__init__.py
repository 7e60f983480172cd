"""`arbedb verify`: read-only checks of a live database.

Each module in this package that defines ``checks(conn, project) -> list[Finding]``
and is listed in CHECK_MODULES contributes findings; the runner concatenates them.
``conn`` is a psycopg connection inside a read-only transaction that the runner
rolls back: a check never writes. A module that needs a setting names it in
``OPTIONS`` and receives it as a keyword argument (drift: ``scratch_dsn``).
A check that cannot run on this server or machine raises ``NotRun`` with why and
how to get it: the report says so in one line instead of passing in silence.
"""

from __future__ import annotations

import importlib

from psycopg.conninfo import make_conninfo

from ..findings import Finding
from ..reporting import Check

# Order is the order of the report.
CHECK_MODULES = ("electric", "conventions", "data_api", "drift", "pgrls", "plpgsql_check", "advisors")


class NotRun(Exception):
    """A check that could not run here; its text is the one line the report prints."""


def dsn_of(conn) -> str:
    """The connection string of ``conn``, password included, for a tool or a second connection."""
    return make_conninfo(conn.info.dsn, password=conn.info.password or None)


def run_groups(conn, project, *, skip: tuple[str, ...] = (), **options) -> list[Check]:
    """Each check module's findings, or why it did not run, in report order."""
    groups: list[Check] = []
    for name in CHECK_MODULES:
        if name in skip:
            continue
        module = importlib.import_module(f"{__name__}.{name}")
        wanted = {k: v for k, v in options.items() if k in getattr(module, "OPTIONS", ())}
        try:
            groups.append(Check(name, tuple(module.checks(conn, project, **wanted))))
        except NotRun as why:
            groups.append(Check(name, (), not_run=str(why)))
    return groups


def run_checks(conn, project, *, skip: tuple[str, ...] = (), **options) -> list[Finding]:
    return [f for group in run_groups(conn, project, skip=skip, **options) for f in group.findings]


def verify(project, dsn: str, *, skip: tuple[str, ...] = (), scratch_dsn: str | None = None):
    """Every check against ``dsn`` in one read-only transaction, as a report (`arbedb verify`)."""
    import time

    from .. import platform
    from ..db import connect
    from ..reporting import Report

    started = time.perf_counter()
    with connect(dsn) as conn:
        conn.read_only = True
        try:
            groups = run_groups(conn, project, skip=skip, scratch_dsn=scratch_dsn)
        finally:
            conn.rollback()
    findings = sorted((f for g in groups for f in g.findings),
                      key=lambda f: (CHECK_ORDER.get(f.code[:3], 9), f.object or "", f.code))
    theirs = [f for f in findings if f.severity == platform.SEVERITY]  # reported apart, never an error
    findings = [f for f in findings if f.severity != platform.SEVERITY]
    summary = {"checks": "+".join(g.name for g in groups if g.not_run is None),
               "seconds": round(time.perf_counter() - started, 2)}
    if theirs:
        summary["platform (not judged)"] = "; ".join(platform.summary(theirs))
    return Report("arbedb verify", findings, summary, _describe, checks=tuple(groups))


CHECK_ORDER = {"ELE": 0, "ARB": 1, "API": 2, "DRF": 3, "pgr": 4, "plp": 5, "sup": 6}


def _describe(code: str) -> str | None:
    from ..lint import describe

    return describe(code)
