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

from .errors import ArbedbError


def _line_of(sql: str, position: int | None) -> int | None:
    if not position:
        return None
    return sql.count("\n", 0, position - 1) + 1


def run_sql(migration_context, sql: str, source: str | Path) -> None:
    """Execute ``sql`` (from ``source``) in the migration context's transaction."""
    if migration_context.as_sql:
        migration_context.impl.static_output(sql.rstrip() + "\n")
        return
    import sqlalchemy.exc

    conn = migration_context.connection
    try:
        conn.exec_driver_sql(sql, execution_options={"no_parameters": True})
    except sqlalchemy.exc.DBAPIError as exc:
        raise sql_error(exc.orig, sql, source) from None


def sql_error(error, sql: str, source: str | Path) -> ArbedbError:
    """One line: where (file:line), what PostgreSQL said, and that nothing was kept."""
    diag = getattr(error, "diag", None)
    line = _line_of(sql, int(diag.statement_position)) if diag and diag.statement_position else None
    where = f"{source}:{line}" if line else str(source)
    primary = (diag.message_primary if diag and diag.message_primary else str(error)).strip()
    hint = f" (hint: {diag.message_hint})" if diag and diag.message_hint else ""
    return ArbedbError(f"{where}: {primary}{hint}; the whole apply was rolled back, fix the file and re-run")
