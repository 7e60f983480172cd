"""Every revision has a downgrade that does something.

What: each ``NNNN_name.up.sql`` has its ``NNNN_name.down.sql`` beside it, and
the downgrade holds at least one statement.

Why: ``arbedb down`` (and alembic) run the downgrade to back a bad deploy out;
a missing file fails the step, an empty one silently leaves the schema at the
newer version while the version table says the older.

Bad::

    migrations/versions/0003_labels.up.sql    CREATE TABLE public.labels (...);
    migrations/versions/0003_labels.down.sql  -- nothing to do

Good::

    migrations/versions/0003_labels.down.sql  DROP TABLE public.labels;
"""

CODE = "ARB013"
TITLE = "revision-downgrade"
SCOPE = "files"


def check(ctx):
    downs = {p.source.path: p for p in ctx.sources_with_role("down")}
    for up in ctx.sources_with_role("up"):
        down_path = up.source.path.removesuffix(".up.sql") + ".down.sql"
        down = downs.get(down_path)
        if down is None:
            yield _at(up, f"revision {up.source.path} has no downgrade ({down_path} is missing)",
                      f"create {down_path} undoing the upgrade in reverse order")
        elif down.error is None and not down.statements:
            yield _at(down, f"downgrade {down_path} has no statement",
                      "write the statements that undo the upgrade, in reverse order")


def _at(parsed, message, fix):
    from ...findings import Finding

    return Finding(CODE, message, fix, path=parsed.source.path, line=1, col=1)
