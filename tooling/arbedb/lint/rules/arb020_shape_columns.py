"""The columns a shape WHERE reads are plain replicated columns: not generated, not an enum.

What: for each synced table, the columns its shapes filter on (``house_id``,
``deleted_at``, ``user_id`` for the members own-shape; read from
electric/shapes.toml) must not be GENERATED and must not have an enum type.

Why: generated columns are not replicated before PostgreSQL 18, so Electric
cannot evaluate the WHERE on the stream; Electric rejects comparisons on enum
columns. Use text with a CHECK constraint.

Bad::

    CREATE TYPE public.member_role AS ENUM ('owner', 'admin', 'member');
    CREATE TABLE public.members (..., role public.member_role, ...);  -- with a shape WHERE role = $2

Good::

    CREATE TABLE public.members (..., role text NOT NULL CHECK (role IN ('owner', 'admin', 'member')), ...);
"""

from ..nodes import qualified

CODE = "ARB020"
TITLE = "shape-columns"
SCOPE = "schema"


def check(ctx):
    for table in ctx.synced_tables():
        name = table.name
        for column_name in ctx.shape_columns.get(name, ("house_id", "deleted_at")):
            column = table.columns.get(column_name)
            if column is None:
                continue
            if column.generated:
                yield column.where.finding(
                    CODE, f"shape column {name}.{column_name} is GENERATED (not replicated before PostgreSQL 18)",
                    "make it a plain column kept by a trigger", obj=f"{name}.{column_name}")
            if qualified(column.type.removesuffix("[]").split(".")) in ctx.schema.enums:
                yield column.where.finding(
                    CODE, f"shape column {name}.{column_name} has enum type {column.type} (Electric rejects enum "
                    "comparisons)", "use text with a CHECK constraint", obj=f"{name}.{column_name}")
