"""Every table in public has an index serving ``house_id = $1 AND deleted_at IS NULL``.

What: a btree index whose first column is ``house_id``, partial on exactly
``deleted_at IS NULL`` (or not partial at all).

Why: that predicate is every Electric shape's WHERE and the scope of every RLS
read; without the index each shape snapshot and each member's query scans the
whole table, every house's rows included.

Bad::

    CREATE INDEX labels_name_idx ON public.labels (name);

Good::

    CREATE INDEX labels_house_live_idx ON public.labels (house_id) WHERE deleted_at IS NULL;
"""

from ..nodes import expression

CODE = "ARB004"
TITLE = "shape-index"
SCOPE = "schema"

_LIVE = expression("deleted_at IS NULL")


def serves_shape(index) -> bool:
    return bool(index.columns) and index.columns[0] == "house_id" and index.predicate in (None, _LIVE)


def check(ctx):
    for table in ctx.schema.public_tables():
        if not any(serves_shape(i) for i in ctx.schema.indexes.values() if i.table == table.name):
            yield table.where.finding(
                CODE, f"no index on {table.name} serves `house_id = $1 AND deleted_at IS NULL`",
                f"add `CREATE INDEX {table.short}_house_live_idx ON {table.name} (house_id) "
                "WHERE deleted_at IS NULL;`", obj=table.name)
