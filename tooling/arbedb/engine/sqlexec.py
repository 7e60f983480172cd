"""Run a SQL file verbatim, online or offline, and name the line that failed.

Two traps this module exists to avoid (both verified by tests/test_verbatim.py):
- ``op.execute(str)`` wraps the text in ``sqlalchemy.text()``, which treats
  ``:name`` as a bind parameter; online we hand the text to the driver with
  ``no_parameters`` so psycopg sends it as-is (several statements, ``%``, ``$$``
  bodies and JSON literals included).
- offline (``alembic upgrade --sql``) alembic renders literals and doubles ``%``;
  ``static_output`` writes the text untouched.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ArbedbError


def statements(sql: str) -> list[tuple[int, str]]:
    """(character offset, text) of each statement, split by PostgreSQL's own scanner.

    Only the scanner runs (pglast, ``with_parser=False``): quoting, dollar-quoted
    bodies and comments are understood, while syntax errors are left for the
    server to report. If even scanning fails, the file is one statement.
    """
    from pglast.parser import split

    try:
        slices = split(sql, with_parser=False, only_slices=True)
    except Exception:
        return [(0, sql)]
    out = []
    for sl in slices:
        text = sql[sl]
        # Point at the statement, not at the comment lines that precede it.
        skipped = len(text) - len(text.lstrip())
        while text[skipped:].startswith("--"):
            newline = text.find("\n", skipped)
            if newline < 0:
                break
            skipped = newline + 1 + len(text[newline + 1:]) - len(text[newline + 1:].lstrip())
        out.append((sl.start + skipped, text[skipped:]))
    return out


def run_sql(migration_context, sql: str, source: str | Path) -> None:
    """Execute ``sql`` (from ``source``) in the migration context's transaction."""
    if migration_context.as_sql:
        migration_context.impl.static_output(sql.rstrip() + "\n")
        return
    import sqlalchemy.exc

    conn = migration_context.connection
    for offset, statement in statements(sql):
        try:
            conn.exec_driver_sql(statement, execution_options={"no_parameters": True})
        except sqlalchemy.exc.DBAPIError as exc:
            raise sql_error(exc.orig, sql, source, offset) from None


def sql_error(error, sql: str, source: str | Path, offset: int = 0) -> ArbedbError:
    """One line: where (file:line), what PostgreSQL said, and that nothing was kept."""
    diag = getattr(error, "diag", None)
    position = offset + (int(diag.statement_position) - 1 if diag and diag.statement_position else 0)
    line = sql.count("\n", 0, position) + 1
    where = f"{source}:{line}"
    primary = (diag.message_primary if diag and diag.message_primary else str(error)).strip()
    hint = f" (hint: {diag.message_hint})" if diag and diag.message_hint else ""
    if getattr(error, "sqlstate", None) == "55P03":  # lock_not_available
        hint += (" (a lock was held by other traffic past lock_timeout: retry when it is quieter, "
                 "or raise lock_timeout in [tool.arbedb])")
    return ArbedbError(f"{where}: {primary}{hint}; the whole apply was rolled back, fix the file and re-run")
