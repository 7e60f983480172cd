"""A table joins the publication after ``LOCK TABLE … IN SHARE MODE`` in the same file.

What: ``CREATE PUBLICATION … FOR TABLE t`` or ``ALTER PUBLICATION … ADD/SET
TABLE t`` without an earlier ``LOCK TABLE t IN SHARE MODE`` (or a stronger
mode) in the same file, which runs in the same transaction.

Why: a transaction that wrote to ``t`` before the table joined the publication
and commits after Electric's snapshot is in neither the snapshot nor the
stream: its rows are lost for every client. SHARE waits for those writers to
finish and holds new ones off until commit (docs/model.md §5).

Bad::

    ALTER PUBLICATION electric_publication_default ADD TABLE public.labels;

Good::

    LOCK TABLE public.labels IN SHARE MODE;
    ALTER PUBLICATION electric_publication_default ADD TABLE public.labels;
"""

from pglast import ast
from pglast.enums import AlterPublicationAction

from ..model import Where
from ..nodes import relation_name

CODE = "ARB018"
TITLE = "publication-lock"
SCOPE = "files"

SHARE_MODE = 5  # lockmode numbers: ShareLock and every stronger mode conflict with writers


def published_tables(node) -> list[str]:
    adding = isinstance(node, ast.CreatePublicationStmt) or (
        isinstance(node, ast.AlterPublicationStmt) and node.action != AlterPublicationAction.AP_DropObjects)
    if not adding:
        return []
    return [relation_name(o.pubtable.relation) for o in node.pubobjects or () if o.pubtable is not None]


def check(ctx):
    for parsed in ctx.sources_with_role("up", "declarative"):
        locked: set[str] = set()
        for stmt in parsed.statements:
            if isinstance(stmt.node, ast.LockStmt) and stmt.node.mode >= SHARE_MODE:
                locked.update(relation_name(r) for r in stmt.node.relations or ())
            for table in published_tables(stmt.node):
                if table not in locked:
                    yield Where(**parsed.locate(stmt.start)).finding(
                        CODE, f"{table} joins publication {stmt.node.pubname} without a SHARE lock first",
                        f"put `LOCK TABLE {table} IN SHARE MODE;` before this statement, in the same file")
