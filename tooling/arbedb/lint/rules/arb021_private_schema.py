"""Nothing in ``arbe_private`` is granted to PUBLIC, anon or authenticated.

What: a GRANT of the schema (USAGE, CREATE) or of any of its tables to a client
role or to PUBLIC.

Why: arbe_private holds invite token hashes, API key hashes and secret values
(docs/model.md §3). Clients reach them only through SECURITY DEFINER functions that
check the caller's role; one grant makes them readable with the anon key.

Bad::

    GRANT SELECT ON arbe_private.secret_values TO authenticated;

Good::

    REVOKE ALL ON ALL TABLES IN SCHEMA arbe_private FROM PUBLIC, anon, authenticated;
"""

CODE = "ARB021"
TITLE = "private-schema"
SCOPE = "schema"

PRIVATE = "arbe_private"
CLIENTS = ("public", "anon", "authenticated")


def check(ctx):
    schema = ctx.schema
    for role, privileges in sorted(schema.schema_grants.get(PRIVATE, {}).items()):
        if role in CLIENTS and privileges:
            where = schema.grant_where.get((f"schema {PRIVATE}", role))
            if where is not None:
                yield where.finding(
                    CODE, f"schema {PRIVATE} grants {', '.join(sorted(privileges)).upper()} to {role}",
                    f"revoke it: `REVOKE ALL ON SCHEMA {PRIVATE} FROM {role};`", obj=f"schema {PRIVATE}")
    for table in schema.tables.values():
        if table.schema != PRIVATE:
            continue
        for role in CLIENTS:
            held = set(table.grants.get(role, ())) | {p for p, _ in table.column_grants.get(role, ())}
            if held:
                where = schema.grant_where.get((table.name, role), table.where)
                yield where.finding(
                    CODE, f"{table.name} grants {', '.join(sorted(held)).upper()} to {role}",
                    f"revoke it: `REVOKE ALL ON {table.name} FROM {role};` and reach it through a "
                    "SECURITY DEFINER function", obj=table.name)
