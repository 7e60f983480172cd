"""Every command granted to ``authenticated`` on a public table has a policy for it.

What: the grants are where this repository states which commands the permission
matrix allows (policies/00_privileges.sql revokes everything, then grants back
exactly the matrix); each granted SELECT, INSERT or UPDATE — whole-table or on
columns — needs a policy ``FOR <command>`` (or ``FOR ALL``) that applies to
``authenticated``. Every table also needs a SELECT policy.

Why: with RLS on, a granted command without a policy silently matches no row:
the write route "succeeds" with 0 rows, or INSERT fails with an RLS error the
matrix says should not happen. Usually it means the policy file was forgotten.

Bad::

    GRANT SELECT, UPDATE ON public.labels TO authenticated;
    CREATE POLICY labels_select ON public.labels FOR SELECT TO authenticated USING (...);
    -- no UPDATE policy

Good::

    CREATE POLICY labels_update ON public.labels FOR UPDATE TO authenticated
    USING (...) WITH CHECK (...);
"""

CODE = "ARB003"
TITLE = "policy-coverage"
SCOPE = "schema"

CLIENT = "authenticated"
COMMANDS = ("select", "insert", "update")


def granted_commands(table) -> set[str]:
    held = set(table.grants.get(CLIENT, ())) | set(table.grants.get("public", ()))
    held |= {priv for role in (CLIENT, "public") for priv, _ in table.column_grants.get(role, ())}
    return (held & set(COMMANDS)) | {"select"}


def covered(policies, command: str) -> bool:
    return any(p.command in (command, "all") and {CLIENT, "public"} & set(p.roles) for p in policies)


def check(ctx):
    for table in ctx.schema.public_tables():
        policies = ctx.schema.policies_on(table.name)
        for command in COMMANDS:
            if command in granted_commands(table) and not covered(policies, command):
                yield table.where.finding(
                    CODE, f"{table.name}: {command.upper()} is "
                    + ("granted to authenticated" if command != "select" else "needed")
                    + f" but no {command.upper()} policy applies to authenticated",
                    f"add `CREATE POLICY {table.short}_{command} ON {table.name} FOR {command.upper()} "
                    f"TO authenticated ...` in policies/ (or revoke the grant)", obj=table.name)
