"""A SECURITY DEFINER function is not executable by PUBLIC or anon.

Why: PostgreSQL grants EXECUTE on every new function to PUBLIC. A SECURITY
DEFINER function runs with its owner's rights, so left at the default, anyone
who can connect (Supabase's ``anon`` key included) calls it. Trigger functions
are exempt: they cannot be called directly.

Bad::

    CREATE FUNCTION arbe.read_secret(secret_id uuid) RETURNS text
    LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$ ... $$;

Good::

    REVOKE ALL ON FUNCTION arbe.read_secret(uuid) FROM PUBLIC, anon, authenticated;
    GRANT EXECUTE ON FUNCTION arbe.read_secret(uuid) TO service_role;
"""

CODE = "ARB011"
TITLE = "secdef-execute"
SCOPE = "schema"

FORBIDDEN = ("public", "anon")


def check(ctx):
    for fn in ctx.schema.functions.values():
        if not fn.security_definer or fn.returns in ("trigger", "event_trigger"):
            continue
        callers = [r for r in FORBIDDEN if r in fn.execute]
        if callers:
            yield fn.where.finding(
                CODE, f"SECURITY DEFINER function {fn.signature} is executable by {' and '.join(callers)}",
                f"add `REVOKE ALL ON FUNCTION {fn.signature} FROM PUBLIC, anon;` and grant EXECUTE "
                "to the roles that need it", obj=fn.signature)
