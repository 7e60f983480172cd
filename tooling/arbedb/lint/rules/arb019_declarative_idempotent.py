"""Declarative files can run again and again: every CREATE replaces or is preceded by its DROP.

What: in policies/, triggers/ and electric/ (re-applied on every change),
``CREATE FUNCTION`` without OR REPLACE, ``CREATE POLICY`` or ``CREATE TRIGGER``
without a ``DROP … IF EXISTS`` of the same object earlier in the file (or OR
REPLACE for triggers), ``CREATE VIEW`` without OR REPLACE, ``CREATE SCHEMA`` or
``CREATE INDEX`` without IF NOT EXISTS, ``CREATE PUBLICATION``/``CREATE ROLE``
outside a guarded DO block, and any ``CREATE TABLE`` (tables belong to revisions).

Why: ``arbedb apply`` re-runs the whole declarative layer whenever anything
changed; a file that fails the second time blocks every later deploy, and a
table created here is never migrated.

Bad::

    CREATE POLICY agents_select ON public.agents FOR SELECT TO authenticated USING (...);

Good::

    DROP POLICY IF EXISTS agents_select ON public.agents;
    CREATE POLICY agents_select ON public.agents FOR SELECT TO authenticated USING (...);
"""

from pglast import ast
from pglast.enums import ObjectType

from ..model import Where
from ..nodes import qualified, relation_name, strings

CODE = "ARB019"
TITLE = "declarative-idempotent"
SCOPE = "files"


def dropped_key(node):
    """(kind, table, name) for DROP POLICY / DROP TRIGGER IF EXISTS."""
    if not (isinstance(node, ast.DropStmt) and node.missing_ok):
        return []
    kinds = {ObjectType.OBJECT_POLICY: "policy", ObjectType.OBJECT_TRIGGER: "trigger"}
    kind = kinds.get(node.removeType)
    if kind is None:
        return []
    return [(kind, qualified(strings(o)[:-1]), strings(o)[-1]) for o in node.objects or ()]


def problem(node, dropped: set) -> str | None:
    if isinstance(node, ast.CreateFunctionStmt) and not node.replace:
        return "CREATE FUNCTION without OR REPLACE fails when the function exists"
    if isinstance(node, ast.CreatePolicyStmt) and (
            ("policy", relation_name(node.table), node.policy_name) not in dropped):
        return f"CREATE POLICY {node.policy_name} without `DROP POLICY IF EXISTS` before it fails when it exists"
    if isinstance(node, ast.CreateTrigStmt) and not node.replace and (
            ("trigger", relation_name(node.relation), node.trigname) not in dropped):
        return f"CREATE TRIGGER {node.trigname} without OR REPLACE (or a DROP TRIGGER IF EXISTS) fails when it exists"
    if isinstance(node, ast.CreateStmt):
        return "CREATE TABLE in a declarative file: tables are created and changed by revisions"
    if isinstance(node, ast.ViewStmt) and not node.replace:
        return "CREATE VIEW without OR REPLACE fails when the view exists"
    if isinstance(node, (ast.CreateSchemaStmt, ast.IndexStmt)) and not node.if_not_exists:
        return "CREATE without IF NOT EXISTS fails the second time"
    if isinstance(node, (ast.CreatePublicationStmt, ast.CreateRoleStmt)):
        return "this CREATE has no IF NOT EXISTS; guard it in a DO block that checks the catalog first"
    return None


def check(ctx):
    for parsed in ctx.sources_with_role("declarative"):
        dropped: set = set()
        for stmt in parsed.statements:
            dropped.update(dropped_key(stmt.node))
            message = problem(stmt.node, dropped)
            if message:
                yield Where(**parsed.locate(stmt.start)).finding(
                    CODE, message, "make the statement idempotent (OR REPLACE, IF NOT EXISTS, "
                    "or DROP … IF EXISTS first); tables go in a revision (`arbedb new`)")
