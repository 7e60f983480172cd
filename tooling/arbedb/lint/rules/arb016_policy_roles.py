"""A policy names the roles it is for, and never ``anon``.

What: a policy without ``TO`` (it then applies to PUBLIC, every role) or one
that applies to ``anon``.

Why: ``anon`` sees and writes nothing (docs/model.md §4). A policy without TO is
evaluated for every role, anon included, so a grant added later for another
purpose silently opens rows to it.

Bad::

    CREATE POLICY agents_select ON public.agents FOR SELECT USING (...);

Good::

    CREATE POLICY agents_select ON public.agents FOR SELECT TO authenticated USING (...);
"""

CODE = "ARB016"
TITLE = "policy-roles"
SCOPE = "schema"


def check(ctx):
    for policy in ctx.schema.policies.values():
        wide = [r for r in policy.roles if r in ("public", "anon")]
        if wide:
            who = "PUBLIC (no TO clause)" if "public" in wide else "anon"
            yield policy.where.finding(
                CODE, f"policy {policy.name} on {policy.table} applies to {who}",
                "name the roles: `TO authenticated`", obj=f"policy {policy.name} on {policy.table}")
