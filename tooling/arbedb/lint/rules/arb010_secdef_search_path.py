"""A function that can run with another role's rights sets ``search_path = pg_catalog, pg_temp``.

What: a SECURITY DEFINER function, or a trigger function, whose search_path is
not exactly ``pg_catalog, pg_temp``; and any other function that sets a
search_path without ``pg_temp`` last.

Why: a definer function runs with its owner's rights, and a trigger function
runs as whoever writes, which is the owner when a definer function writes. The
caller's session temporary schema is searched *first* for relations and types
unless the path names ``pg_temp`` itself, and ``search_path = ''`` does not
name it: a caller with TEMP (PUBLIC has it) creates ``pg_temp.uuid`` as a domain
whose CHECK runs their own code, and a ``DECLARE x uuid``, a ``::uuid`` cast or
an unqualified table in the function then runs that code as the owner.
PostgreSQL's own advice for SECURITY DEFINER functions is to list ``pg_temp``
last. An invoker function that sets its own path is held to the same rule: it
runs as the owner whenever a definer function calls it, and its SET replaces
the definer's. Functions with no SET clause (the inlined SQL helpers) resolve
under their caller's path. Every other name must be qualified (ARB017).

Bad::

    CREATE FUNCTION arbe.is_house_member(house_id uuid) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$ ... $$;

Good::

    CREATE FUNCTION arbe.is_house_member(house_id uuid) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$ ... $$;
"""

CODE = "ARB010"
TITLE = "secdef-search-path"
SCOPE = "schema"

SAFE = ("pg_catalog", "pg_temp")
FIX = "set `SET search_path = pg_catalog, pg_temp` on the function and qualify every other name in its body"


def runs_as_another(fn) -> bool:
    """Definer functions, and trigger functions (they fire inside definer functions' writes too)."""
    return fn.security_definer or fn.returns.lower() == "trigger"


def check(ctx):
    for fn in ctx.schema.functions.values():
        current = fn.settings.get("search_path")
        if current == SAFE:
            continue
        shown = ", ".join(v or "''" for v in current) if current else None
        if runs_as_another(fn):
            kind = "SECURITY DEFINER function" if fn.security_definer else "trigger function"
            what = f"sets search_path to {shown}" if current else "does not set search_path"
            yield fn.where.finding(CODE, f"{kind} {fn.signature} {what}: the caller's pg_temp is searched first",
                                   FIX, obj=fn.signature)
        elif current is not None and current[-1] != "pg_temp":
            yield fn.where.finding(
                CODE, f"{fn.signature} sets search_path to {shown} without pg_temp last: run from a definer "
                "function it searches the caller's pg_temp first", FIX, obj=fn.signature)
