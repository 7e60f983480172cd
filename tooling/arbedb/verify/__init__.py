"""`arbedb verify`: read-only checks of a live database.

Each module in this package that defines ``checks(conn, project) -> list[Finding]``
and is listed in CHECK_MODULES contributes findings; the runner concatenates them.
``conn`` is a psycopg connection inside a read-only transaction that the runner
rolls back: a check never writes.
"""

from __future__ import annotations

import importlib

from ..findings import Finding

# Order is the order of the report.
CHECK_MODULES = ("electric",)


def run_checks(conn, project) -> list[Finding]:
    findings: list[Finding] = []
    for name in CHECK_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue  # not written yet
            raise
        findings.extend(module.checks(conn, project))
    return findings
