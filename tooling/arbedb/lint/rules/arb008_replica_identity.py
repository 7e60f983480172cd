"""Every synced table has ``REPLICA IDENTITY FULL``.

Why: an UPDATE that sets ``deleted_at`` must carry the old row so Electric can
see the row leave the shape ``house_id = $1 AND deleted_at IS NULL``; with the
default identity the old row is only the primary key and the client keeps a
deleted row forever.

What lint sees: explicit ``ALTER TABLE … REPLICA IDENTITY`` statements (a
synced table set to anything but FULL); when the repository states identities
only in plain SQL (no DO block manages the publication) a synced table never set
to FULL is reported too. ``arbedb verify`` checks the live tables.

Bad::

    ALTER TABLE public.labels REPLICA IDENTITY DEFAULT;

Good::

    ALTER TABLE public.labels REPLICA IDENTITY FULL;
"""

CODE = "ARB008"
TITLE = "replica-identity-full"
SCOPE = "schema"

NAMES = {"d": "DEFAULT", "n": "NOTHING", "i": "USING INDEX", "f": "FULL"}


def check(ctx):
    from .arb007_publication_tables import DEFAULT_PUBLICATION

    stated = getattr(ctx.project, "publication", DEFAULT_PUBLICATION) in ctx.schema.publications
    for name in sorted(ctx.synced):
        table = ctx.schema.tables.get(name)
        if table is None or table.replica_identity == "f":
            continue
        if table.replica_where is None and not stated:
            continue  # never stated in plain SQL: the DO block that manages the publication sets it
        where = table.replica_where or table.where
        yield where.finding(
            CODE, f"synced table {name} has REPLICA IDENTITY {NAMES.get(table.replica_identity, '?')}",
            f"set `ALTER TABLE {name} REPLICA IDENTITY FULL;`", obj=name)
