"""`arbedb verify`: read-only checks of a live database.

Each module in this package that defines ``checks(conn, project) -> list[Finding]``
and is listed in CHECK_MODULES contributes findings; the runner concatenates them.
``conn`` is a psycopg connection inside a read-only transaction that the runner
rolls back: a check never writes. A module that needs a setting names it in
``OPTIONS`` and receives it as a keyword argument (drift: ``scratch_dsn``).
"""

from __future__ import annotations

import importlib

from ..findings import Finding

# Order is the order of the report.
CHECK_MODULES = ("electric", "conventions", "data_api", "drift", "pgrls")


def run_checks(conn, project, *, skip: tuple[str, ...] = (), **options) -> list[Finding]:
    findings: list[Finding] = []
    for name in CHECK_MODULES:
        if name in skip:
            continue
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue  # not written yet
            raise
        wanted = {k: v for k, v in options.items() if k in getattr(module, "OPTIONS", ())}
        findings.extend(module.checks(conn, project, **wanted))
    return findings


def verify(project, dsn: str, *, skip: tuple[str, ...] = (), scratch_dsn: str | None = None):
    """Every check against ``dsn`` in one read-only transaction, as a report (`arbedb verify`)."""
    import time

    from .. import platform
    from ..db import connect
    from ..reporting import Report
    from .pgrls import executable

    started = time.perf_counter()
    with connect(dsn) as conn:
        conn.read_only = True
        try:
            findings = run_checks(conn, project, skip=skip, scratch_dsn=scratch_dsn)
        finally:
            conn.rollback()
    ran = [m for m in CHECK_MODULES if m not in skip and (m != "pgrls" or executable())]
    findings.sort(key=lambda f: (CHECK_ORDER.get(f.code[:3], 9), f.object or "", f.code))
    theirs = [f for f in findings if f.severity == platform.SEVERITY]  # reported apart, never an error
    findings = [f for f in findings if f.severity != platform.SEVERITY]
    summary = {"checks": "+".join(ran), "seconds": round(time.perf_counter() - started, 2)}
    if theirs:
        summary["platform (not judged)"] = "; ".join(platform.summary(theirs))
    if "pgrls" not in skip and not executable():
        summary["pgrls"] = "not installed, skipped"
    return Report("arbedb verify", findings, summary, _describe)


CHECK_ORDER = {"ELE": 0, "ARB": 1, "API": 2, "DRF": 3, "pgr": 4}


def _describe(code: str) -> str | None:
    from ..lint import describe

    return describe(code)
