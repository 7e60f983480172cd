"""A function whose search_path holds only catalogs qualifies every table and project function it uses.

What: in the body of a function that sets ``search_path = pg_catalog, pg_temp``
(or ``''``), a relation named without its schema (other than ``pg_*`` catalogs)
or a call to one of this project's functions without its schema. PL/pgSQL
bodies are read with the PL/pgSQL parser, so every statement and expression
inside is checked.

Why: such a path searches ``pg_catalog`` and the session's temporary schema
and nothing else. An unqualified ``members`` is then either the caller's own
``pg_temp.members`` (a table or view they created, read or written with the
function's rights) or, when there is none, "relation does not exist" on the
first call (PL/pgSQL resolves names at first call, not at CREATE). Functions
are never looked up in ``pg_temp``, so an unqualified project function only
fails; both must name their schema.

Bad::

    CREATE FUNCTION arbe.member_count(h uuid) RETURNS bigint
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$ SELECT count(*) FROM members WHERE house_id = h $$;

Good::

    CREATE FUNCTION arbe.member_count(h uuid) RETURNS bigint
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$ SELECT count(*) FROM public.members WHERE house_id = h $$;
"""

from pglast import ast
from pglast.visitors import referenced_relations

from ..model import Where
from ..nodes import func_call_name, walk
from ..plpgsql import body

CODE = "ARB017"
TITLE = "qualified-names"
SCOPE = "schema"

CATALOGS_ONLY = {"", "pg_catalog", "pg_temp"}


def unqualified_names(node, project_functions: set[str], transition: frozenset[str] = frozenset()
                      ) -> list[tuple[str, int | None]]:
    """(what, location) of each name that a catalogs-only search_path resolves to pg_temp or to nothing.
    ``transition``: a trigger's transition tables (REFERENCING … TABLE AS name), which PostgreSQL
    resolves before any schema."""
    try:
        relations = {r for r in referenced_relations(node)
                     if "." not in r and not r.startswith("pg_") and r not in transition}
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
    transition: dict[str, set[str]] = {}
    for trigger in ctx.schema.triggers.values():
        transition.setdefault(trigger.function, set()).update(trigger.transition)
    for fn in ctx.schema.functions.values():
        path = fn.settings.get("search_path")
        if not path or not set(path) <= CATALOGS_ONLY:
            continue
        parsed = body(fn)
        for stmt in parsed.statements:
            for name, location in unqualified_names(stmt.node, project_functions,
                                                    frozenset(transition.get(fn.name, ()))):
                if stmt.base is not None and location is not None:
                    where = Where(**fn.parsed.locate(stmt.base + location))
                else:
                    where = Where(fn.where.path, stmt.line, 1, fn.where.object) if fn.where.path else fn.where
                yield where.finding(
                    CODE, f"{fn.signature} searches only pg_catalog and pg_temp but names {name} without its schema",
                    "qualify it (public.members, arbe.caller_id())", obj=fn.signature)
