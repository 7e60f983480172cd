"""A SECURITY DEFINER function sets ``search_path = ''``.

Why: it runs with its owner's rights but resolves unqualified names through the
caller's search_path; a caller who can create objects in a schema on that path
(or in ``pg_temp``) shadows a table, function or operator and runs code as the
owner. With ``search_path = ''`` every name must be qualified (see ARB017).

Bad::

    CREATE FUNCTION arbe.is_house_member(house_id uuid) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER AS $$ ... $$;

Good::

    CREATE FUNCTION arbe.is_house_member(house_id uuid) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$ ... $$;
"""

CODE = "ARB010"
TITLE = "secdef-search-path"
SCOPE = "schema"


def check(ctx):
    for fn in ctx.schema.functions.values():
        if fn.security_definer and fn.settings.get("search_path") != ("",):
            current = fn.settings.get("search_path")
            yield fn.where.finding(
                CODE, f"SECURITY DEFINER function {fn.signature} "
                + (f"sets search_path to {', '.join(current)!r}" if current else "does not set search_path"),
                "add `SET search_path = ''` to the function and qualify every name in its body", obj=fn.signature)
