"""A SECURITY DEFINER function callers may EXECUTE is one of the caller API.

What: a SECURITY DEFINER function (trigger functions aside) that PUBLIC, anon
or authenticated may EXECUTE, and that is not in ``CALLER_API``: the functions
the product's clients call (the membership questions, the credential
functions, the key identity functions) and the helpers policies call that
answer only about the caller's own houses.

Why: a SECURITY DEFINER function runs with its owner's rights, past RLS. A
helper written for a trigger or a policy trusts its arguments, because its
callers were meant to be the triggers: executable by ``authenticated``, it is an
API nobody reviewed as one. ``arbe.assert_keeps_an_owner`` let any signed-in
user lock any house's row and its owners' memberships for as long as their
transaction stayed open; ``arbe.house_has_members`` told anyone whether a house
id exists. Such a helper is reached through a path that runs as its owner (a
SECURITY DEFINER trigger function, or a caller-API function that checks the
caller first), so no caller needs EXECUTE on it. A SECURITY INVOKER function is
not reported: it runs with the caller's rights and sees what RLS shows them.

Bad::

    CREATE FUNCTION arbe.assert_keeps_an_owner(house_id uuid, member_id uuid) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$ ... $$;
    GRANT EXECUTE ON FUNCTION arbe.assert_keeps_an_owner(uuid, uuid) TO authenticated;

Good::

    REVOKE ALL ON FUNCTION arbe.assert_keeps_an_owner(uuid, uuid) FROM PUBLIC, anon, authenticated;
    -- called by a SECURITY DEFINER trigger function, which runs as the owner
    CREATE FUNCTION arbe.keep_an_owner() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$ ... $$;
"""

CODE = "ARB023"
TITLE = "caller-functions"
SCOPE = "schema"

CLIENTS = ("public", "anon", "authenticated")

# By name: an argument list may change without the function changing its nature.
CALLER_API = frozenset({
    # What clients call (the membership questions and the credential functions).
    "arbe.is_house_member", "arbe.house_role",
    "arbe.create_invite", "arbe.lookup_invite", "arbe.accept_invite", "arbe.create_api_key", "arbe.set_secret",
    # Key callers: who the key is, and the stream proxy's question.
    "arbe.caller_agent_id", "arbe.caller_key_house_id", "arbe.can_access_thread",
    # The key lookup policies reach through arbe.acting_key (so as the caller): it
    # answers only for the key the caller's own claims name.
    "arbe.caller_key",
    # Called by policies, answering only about the caller's own houses: the ones
    # the caller belongs to, and whether a house the caller created has members.
    "arbe.caller_house_ids", "arbe.created_house_has_members",
})


def check(ctx):
    for fn in ctx.schema.functions.values():
        if not fn.security_definer or fn.returns in ("trigger", "event_trigger") or fn.name in CALLER_API:
            continue
        callers = [r for r in CLIENTS if r in fn.execute]
        if callers:
            yield fn.where.finding(
                CODE, f"SECURITY DEFINER function {fn.signature} is executable by {' and '.join(callers)} "
                "but is no caller API function",
                f"revoke it (`REVOKE ALL ON FUNCTION {fn.signature} FROM PUBLIC, anon, authenticated;`) and "
                "reach it from a SECURITY DEFINER trigger function or caller-API function; or, if callers "
                "must call it and it answers only about their own houses, add it to CALLER_API in "
                "tooling/arbedb/lint/rules/arb023_caller_functions.py", obj=fn.signature)
