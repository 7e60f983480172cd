"""No policy lets a client role DELETE.

What: a policy ``FOR DELETE`` or ``FOR ALL`` that applies to ``authenticated``,
``anon`` or PUBLIC.

Why: rows are soft-deleted (``deleted_at``) so Electric can move them out of
shapes and the history survives; authenticated callers never hard-DELETE
(docs/model.md §4). ``FOR ALL`` is the easy way to grant DELETE by accident.

Bad::

    CREATE POLICY agents_all ON public.agents FOR ALL TO authenticated USING (...);

Good::

    CREATE POLICY agents_update ON public.agents FOR UPDATE TO authenticated USING (...) WITH CHECK (...);
"""

CODE = "ARB015"
TITLE = "no-hard-delete"
SCOPE = "schema"

CLIENT_ROLES = {"authenticated", "anon", "public"}


def check(ctx):
    for policy in ctx.schema.policies.values():
        clients = CLIENT_ROLES & set(policy.roles)
        if policy.command in ("delete", "all") and clients:
            yield policy.where.finding(
                CODE, f"policy {policy.name} on {policy.table} allows DELETE to {', '.join(sorted(clients))}",
                "soft-delete instead: write one policy per command (SELECT, INSERT, UPDATE), none for DELETE",
                obj=f"policy {policy.name} on {policy.table}")
