"""A revision that changes a synced table says that Electric will re-sync its shapes.

What: an upgrade or downgrade with CREATE/ALTER/DROP TABLE (or a column rename)
on a synced table carries a comment starting ``Electric:`` that says what
happens to the shapes.

Why: every schema change to a synced table makes Electric drop that table's
shapes, and every client re-syncs them from scratch. The reviewer and the
person deploying need to see that, and plan it, before it ships.

Bad::

    ALTER TABLE public.threads ADD COLUMN pinned boolean NOT NULL DEFAULT false;

Good::

    -- Electric: threads changes shape; every threads shape is dropped and re-synced.
    ALTER TABLE public.threads ADD COLUMN pinned boolean NOT NULL DEFAULT false;
"""

from pglast import ast
from pglast.enums import ObjectType

from ..nodes import qualified, relation_name, strings

CODE = "ARB014"
TITLE = "revision-electric-note"
SCOPE = "files"

MARKER = "electric:"


def tables_changed(node) -> list[str]:
    if isinstance(node, (ast.CreateStmt, ast.AlterTableStmt)) and node.relation is not None:
        if not isinstance(node, ast.AlterTableStmt) or node.objtype == ObjectType.OBJECT_TABLE:
            return [relation_name(node.relation)]
    if isinstance(node, ast.DropStmt) and node.removeType == ObjectType.OBJECT_TABLE:
        return [qualified(strings(obj)) for obj in node.objects or ()]
    if isinstance(node, ast.RenameStmt) and node.relation is not None and node.renameType in (
            ObjectType.OBJECT_TABLE, ObjectType.OBJECT_COLUMN):
        return [relation_name(node.relation)]
    return []


def has_note(parsed) -> bool:
    return any(text.lstrip("-/* \t").lower().startswith(MARKER) for _, text in parsed.comments)


def check(ctx):
    for parsed in ctx.sources_with_role("up", "down"):
        for stmt in parsed.statements:
            touched = [t for t in tables_changed(stmt.node) if t in ctx.synced]
            if touched:
                if not has_note(parsed):
                    yield stmt_finding(parsed, stmt, touched[0])
                break


def stmt_finding(parsed, stmt, table):
    from ..model import Where

    return Where(**parsed.locate(stmt.start)).finding(
        CODE, f"{parsed.source.path} changes synced table {table} without saying what Electric will do",
        f"add a comment `-- Electric: {table.split('.')[-1]} shapes are dropped and clients re-sync them.`")
