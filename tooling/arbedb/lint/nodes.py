"""Small readers over pglast's AST: qualified names, type names, roles, a walker.

Every name comes back normalised the way PostgreSQL resolves it for this
project: lower case (the parser already folds unquoted identifiers), and an
unqualified relation or function is in ``public``, the schema every migration
runs with first on its search_path.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast, parse_sql

DEFAULT_SCHEMA = "public"


def walk(node) -> Iterator[ast.Node]:
    """``node`` and every node below it, depth first."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.Node):
            yield item
            stack.extend(getattr(item, attr) for attr in reversed(type(item).__slots__))
        elif isinstance(item, (tuple, list)):
            stack.extend(reversed(item))


def strings(items) -> list[str]:
    """The values of a list of ``String`` nodes (names, column lists)."""
    return [item.sval for item in items or () if isinstance(item, ast.String)]


def relation_name(rangevar: ast.RangeVar) -> str:
    return f"{rangevar.schemaname or DEFAULT_SCHEMA}.{rangevar.relname}"


def qualified(names: list[str]) -> str:
    """``["arbe", "f"]`` -> ``arbe.f``; ``["f"]`` -> ``public.f``."""
    return ".".join(names) if len(names) > 1 else f"{DEFAULT_SCHEMA}.{names[0]}"


def type_name(tn: ast.TypeName | None) -> str:
    """``pg_catalog.int4`` -> ``int4``, ``text[]`` -> ``text[]``: one spelling per type."""
    if tn is None:
        return ""
    names = strings(tn.names)
    if len(names) > 1 and names[0] == "pg_catalog":
        names = names[1:]
    return ".".join(names) + "[]" * len(tn.arrayBounds or ())


def role_name(spec: ast.RoleSpec) -> str:
    """A grantee or policy role; ``PUBLIC`` and the CURRENT_* forms by their keyword."""
    from pglast.enums import RoleSpecType

    if spec.roletype == RoleSpecType.ROLESPEC_CSTRING:
        return spec.rolename
    return {
        RoleSpecType.ROLESPEC_PUBLIC: "public",
        RoleSpecType.ROLESPEC_CURRENT_USER: "current_user",
        RoleSpecType.ROLESPEC_SESSION_USER: "session_user",
        RoleSpecType.ROLESPEC_CURRENT_ROLE: "current_role",
    }.get(spec.roletype, str(spec.roletype))


def func_call_name(call: ast.FuncCall) -> str:
    """The name as written: ``auth.uid`` or ``now`` (unqualified names stay unqualified)."""
    return ".".join(strings(call.funcname))


def column_refs(node) -> set[str]:
    """Last name part of every column referenced under ``node``."""
    out = set()
    for n in walk(node):
        if isinstance(n, ast.ColumnRef):
            names = strings(n.fields)
            if names:
                out.add(names[-1])
    return out


def expression(text: str) -> ast.Node:
    """Parse a bare SQL expression (a policy qual, an index predicate) into its node."""
    return parse_sql(f"SELECT {text}")[0].stmt.targetList[0].val


def const_string(node) -> str | None:
    if isinstance(node, ast.A_Const) and isinstance(node.val, ast.String):
        return node.val.sval
    if isinstance(node, ast.String):
        return node.sval
    return None
