"""Run a SQL file verbatim, online or offline, all of it or none, and name the line that failed.

Before any statement of a file runs (or is written out offline), PostgreSQL's parser
reads the whole file (``sqlfile``): a syntax error anywhere fails the apply with
``file:line``, and every statement found is run, so no part of a file is skipped.

Two traps this module also avoids (both verified by tests/test_verbatim.py):
- ``op.execute(str)`` wraps the text in ``sqlalchemy.text()``, which treats
  ``:name`` as a bind parameter; online we hand each statement to psycopg without parameters,
  so it is sent as-is (``%``, ``$$`` bodies and JSON literals included).
- offline (``alembic upgrade --sql``) alembic renders literals and doubles ``%``;
  ``static_output`` writes the text untouched.
"""

from __future__ import annotations

from pathlib import Path

from pglast import ast
from pglast.enums.parsenodes import TransactionStmtKind

from ..errors import ArbedbError
from . import sqlfile

# Inside the one apply transaction, BEGIN/COMMIT/… would end it (or start a two-phase one) part
# way through, and what followed would run, and stay, outside it. Savepoints would nest, but
# `supabase db push` runs an exported file as one pipeline, where they fail: refused too, so
# a file that applies here also deploys there.
_TRANSACTION_CONTROL = {
    TransactionStmtKind.TRANS_STMT_BEGIN: "BEGIN", TransactionStmtKind.TRANS_STMT_START: "START TRANSACTION",
    TransactionStmtKind.TRANS_STMT_COMMIT: "COMMIT", TransactionStmtKind.TRANS_STMT_ROLLBACK: "ROLLBACK",
    TransactionStmtKind.TRANS_STMT_SAVEPOINT: "SAVEPOINT", TransactionStmtKind.TRANS_STMT_RELEASE: "RELEASE",
    TransactionStmtKind.TRANS_STMT_ROLLBACK_TO: "ROLLBACK TO", TransactionStmtKind.TRANS_STMT_PREPARE: "PREPARE TRANSACTION",
    TransactionStmtKind.TRANS_STMT_COMMIT_PREPARED: "COMMIT PREPARED",
    TransactionStmtKind.TRANS_STMT_ROLLBACK_PREPARED: "ROLLBACK PREPARED",
}
_UNDONE = "nothing was applied or written, fix the file and re-run"


def statements(sql: str, source: str | Path) -> list[tuple[int, str]]:
    """(character offset, text) of each statement of ``sql``, all of them, or ArbedbError naming
    ``source:line`` when PostgreSQL's parser rejects the file or it holds transaction control."""
    try:
        found = sqlfile.statements(sql)
    except sqlfile.SqlSyntaxError as exc:
        raise ArbedbError(f"{where(sql, source, exc.offset)}: {exc.message}; {_UNDONE}") from None
    for stmt in found:
        kind = stmt.node.kind if isinstance(stmt.node, ast.TransactionStmt) else None
        if kind in _TRANSACTION_CONTROL:
            raise ArbedbError(
                f"{where(sql, source, stmt.start)}: {_TRANSACTION_CONTROL[kind]} in a file arbedb applies; every file "
                f"runs inside the one apply transaction (all or nothing), savepoints included: remove it; {_UNDONE}")
    return [(s.start, sql[s.start:s.end]) for s in found]


def run_sql(target, sql: str, source: str | Path, heading: str = "") -> None:
    """Execute ``sql`` (from ``source``) in the apply's transaction: ``target`` is alembic's migration
    context or, for arbedb's own runner (``engine.direct``), the psycopg connection itself. Offline,
    write it after ``heading`` (a comment naming the file, for people reading the script)."""
    found = statements(sql, source)
    if getattr(target, "as_sql", False):
        # Files follow each other in one script: an unterminated last statement would
        # otherwise run on into the next file's first one.
        end = "\n" if sqlfile.terminated(sql) else "\n;\n"
        target.impl.static_output(heading + sql.rstrip() + end)
        return
    import psycopg

    # Under alembic, the driver's own connection: the same transaction, and each statement sent as
    # it is (no bind-parameter parsing of ``:name`` or ``%``), as SQLAlchemy's no_parameters would.
    conn = target if isinstance(target, psycopg.Connection) else target.connection.connection.driver_connection
    with conn.cursor() as cur:
        for offset, statement in found:
            try:
                cur.execute(statement)
            except psycopg.Error as exc:
                raise sql_error(exc, sql, source, offset) from None


def where(sql: str, source: str | Path, position: int) -> str:
    return f"{source}:{sql.count(chr(10), 0, position) + 1}"


def sql_error(error, sql: str, source: str | Path, offset: int = 0) -> ArbedbError:
    """One line: where (file:line), what PostgreSQL said, and that nothing was kept."""
    diag = getattr(error, "diag", None)
    position = offset + (int(diag.statement_position) - 1 if diag and diag.statement_position else 0)
    primary = (diag.message_primary if diag and diag.message_primary else str(error)).strip()
    hint = f" (hint: {diag.message_hint})" if diag and diag.message_hint else ""
    if getattr(error, "sqlstate", None) == "55P03":  # lock_not_available
        hint += (" (a lock was held by other traffic past lock_timeout: retry when it is quieter, "
                 "or raise lock_timeout in [tool.arbedb])")
    return ArbedbError(f"{where(sql, source, position)}: {primary}{hint}; "
                       "the whole apply was rolled back, fix the file and re-run")
