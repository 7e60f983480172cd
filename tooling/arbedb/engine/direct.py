"""arbedb's own runner for an upgrade to head, when it provably does what alembic would.

Importing alembic costs an apply about half its time (alembic's ``__init__`` loads its whole
runtime, its operations and autogenerate, Mako and all of SQLAlchemy; no part of it loads
alone), for what is, in this project, reading a version table and running SQL files. So when
the project is exactly what ``arbedb`` scaffolds — the stock ``migrations/env.py``, every
revision file the template's (its upgrade and downgrade are the SQL files beside it), one line
of history, and the database's version on that line — ``arbedb apply`` runs the revisions
itself, on one psycopg connection in one transaction, and writes alembic's version table
(``arbedb.alembic_version``) with the same table and the same rows alembic writes, so
``alembic current``, ``alembic downgrade`` and ``arbedb down`` carry on from it. The lock,
prelude, declarative layer and fingerprint are ``runtime``'s own (``begin``, ``finish``).
Anything else (a revision with Python in it, a customised env.py, a branch, a database at a
revision this checkout does not have) goes to alembic, as before; tests/test_apply.py holds
the two runners to the same catalog, version table and output.
"""

from __future__ import annotations

import ast
import re
import time
from pathlib import Path

from ..config import Project
from ..errors import ArbedbError, first_line, unusable_database
from .history import plain_line
from .lock import APPLY_APPLICATION, VERSION_SCHEMA
from .migration import sql_paths
from .runtime import ApplyResult, begin, finish
from .sqlexec import run_sql

VERSION_TABLE = f"{VERSION_SCHEMA}.alembic_version"
# alembic's own DDL for its version table (``alembic upgrade --sql`` prints the same).
_CREATE_VERSION_TABLE = (f"CREATE TABLE {VERSION_TABLE} (\n    version_num VARCHAR(32) NOT NULL, \n"
                         "    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)\n)")

_STOCK_ENV = "from alembic import context\nfrom arbedb.engine.runtime import run\nrun(context)"
_REVISION_NAMES = {"revision", "down_revision", "branch_labels", "depends_on"}


def _code(tree: ast.Module) -> list[ast.stmt]:
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    return body


def _stock_env(project: Project) -> bool:
    env = project.migrations_dir / "env.py"
    try:
        return ast.unparse(_code(ast.parse(env.read_text()))) == _STOCK_ENV
    except (OSError, SyntaxError):
        return False


_IMPORT = "from arbedb.engine.migration import sql_revision"
_STEPS = "upgrade, downgrade = sql_revision(__file__)"


def _literal(stmt: ast.stmt) -> bool:
    """``revision = "0002"`` and its kin (annotated or not): a name of the four, a literal value."""
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(stmt, ast.AnnAssign) else []
    return (bool(targets) and isinstance(stmt.value, ast.Constant)
            and all(isinstance(t, ast.Name) and t.id in _REVISION_NAMES for t in targets))


def _template_revision(text: str) -> str | None:
    """The revision's doc as alembic shows it, when the file is the template's: nothing but the
    import, the four literals and ``upgrade, downgrade = sql_revision(__file__)``; else None."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    code = [ast.unparse(stmt) for stmt in _code(tree) if not _literal(stmt)]
    if code != [_IMPORT, _STEPS]:
        return None
    # alembic's Script.doc: the module docstring, stripped, up to its first blank line.
    return re.split("\n\n", (ast.get_docstring(tree, clean=False) or "").strip())[0]


def plan(project: Project) -> list[tuple[str, str, Path]] | None:
    """(revision, doc, .up.sql) oldest first when this runner may apply the project; None: alembic's job."""
    line = plain_line(project)
    if line is None or not _stock_env(project):
        return None
    out = []
    for rev, py in line:
        doc = _template_revision(py.read_text())
        if doc is None:
            return None
        out.append((rev, doc, sql_paths(py)[0]))
    return out


def apply(project: Project, dsn: str, revisions: list[tuple[str, str, Path]], *, redeclare: bool) -> ApplyResult | None:
    """Upgrade to head and the declarative layer, one transaction; None (nothing done, nothing kept)
    when the database is somewhere alembic must judge (a revision not on this checkout's line)."""
    import psycopg

    from ..db import open_connection

    result = ApplyResult()
    started = time.perf_counter()
    ids = [rev for rev, _, _ in revisions]
    conn = open_connection(dsn, application_name=APPLY_APPLICATION)
    try:
        with conn:  # commits at the end, rolls back on any error (Ctrl-C included)
            begin(conn, conn, project, result)
            with conn.cursor() as cur:
                exists = cur.execute("SELECT to_regclass(%s) IS NOT NULL", (VERSION_TABLE,)).fetchone()[0]
                current = [r[0] for r in cur.execute(f"SELECT version_num FROM {VERSION_TABLE}")] if exists else []
            if len(current) > 1 or (current and current[0] not in ids):
                conn.rollback()
                return None
            if not exists:
                run_sql(conn, _CREATE_VERSION_TABLE, "arbedb version table")
            at = current[0] if current else None
            pending = revisions[ids.index(at) + 1:] if at else revisions
            for rev, doc, up in pending:
                run_sql(conn, up.read_text(), up.relative_to(up.parents[2]))
                with conn.cursor() as cur:  # as alembic writes it after each step
                    if at is None:
                        cur.execute(f"INSERT INTO {VERSION_TABLE} (version_num) VALUES (%s)", (rev,))
                    else:
                        cur.execute(f"UPDATE {VERSION_TABLE} SET version_num = %s WHERE version_num = %s", (rev, at))
                result.steps.append(f"upgrade {rev}: {doc}")
                at = rev
            result.heads = (at,) if at else ()
            finish(conn, conn, project, result, declarative=True, redeclare=redeclare, downgraded=False,
                   at_head=bool(ids) and at == ids[-1])
    except psycopg.OperationalError as exc:
        raise unusable_database(first_line(exc)) from None
    except psycopg.Error as exc:  # outside any file, e.g. at COMMIT: a deferred constraint
        raise ArbedbError(f"the apply failed ({first_line(exc)}); "
                          "the whole apply was rolled back, fix the cause and re-run") from None
    finally:
        conn.close()
    result.seconds = time.perf_counter() - started
    return result
