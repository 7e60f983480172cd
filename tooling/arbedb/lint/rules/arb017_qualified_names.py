"""A function with ``search_path = ''`` qualifies every table and project function it uses.

What: in the body of a function that sets an empty search_path, a relation
named without its schema (other than ``pg_*`` catalogs) or a call to one of
this project's functions without its schema. PL/pgSQL bodies are read with the
PL/pgSQL parser, so every statement and expression inside is checked.

Why: with an empty search_path only ``pg_catalog`` is searched; an unqualified
``members`` compiles (PL/pgSQL resolves names at first call, not at CREATE) and
then fails in production with "relation does not exist" on the first call.

Bad::

    CREATE FUNCTION arbe.member_count(h uuid) RETURNS bigint
    LANGUAGE sql STABLE SET search_path = '' AS $$ SELECT count(*) FROM members WHERE house_id = h $$;

Good::

    CREATE FUNCTION arbe.member_count(h uuid) RETURNS bigint
    LANGUAGE sql STABLE SET search_path = '' AS $$ SELECT count(*) FROM public.members WHERE house_id = h $$;
"""

from pglast import ast
from pglast.visitors import referenced_relations

from ..model import Where
from ..nodes import func_call_name, walk
from ..plpgsql import body

CODE = "ARB017"
TITLE = "qualified-names"
SCOPE = "schema"


def unqualified_names(node, project_functions: set[str]) -> list[tuple[str, int | None]]:
    """(what, location) of each name that an empty search_path cannot resolve."""
    try:
        relations = {r for r in referenced_relations(node) if "." not in r and not r.startswith("pg_")}
    except Exception:  # noqa: BLE001 - a statement pglast cannot walk names no relation
        relations = set()
    found = []
    for item in walk(node):
        if isinstance(item, ast.RangeVar) and not item.schemaname and item.relname in relations:
            found.append((f"relation {item.relname}", item.location))
        elif isinstance(item, ast.FuncCall):
            name = func_call_name(item)
            if "." not in name and name in project_functions:
                found.append((f"function {name}()", item.location))
    return found


def check(ctx):
    project_functions = {fn.name.split(".", 1)[1] for fn in ctx.schema.functions.values()}
    for fn in ctx.schema.functions.values():
        if fn.settings.get("search_path") != ("",):
            continue
        parsed = body(fn)
        for stmt in parsed.statements:
            for name, location in unqualified_names(stmt.node, project_functions):
                if stmt.base is not None and location is not None:
                    where = Where(**fn.parsed.locate(stmt.base + location))
                else:
                    where = Where(fn.where.path, stmt.line, 1, fn.where.object) if fn.where.path else fn.where
                yield where.finding(
                    CODE, f"{fn.signature} runs with search_path = '' but names {name} without its schema",
                    "qualify it (public.members, arbe.caller_id())", obj=fn.signature)
