"""Every table in public carries ``house_id uuid NOT NULL`` and ``deleted_at timestamptz``.

Why: every Electric shape is the literal ``house_id = $1 AND deleted_at IS NULL``
and every RLS policy scopes by ``house_id``; a table without both columns can be
neither synced per house nor soft-deleted, and a nullable ``house_id`` is a row
that belongs to no house and that no policy can place.

Bad::

    CREATE TABLE public.labels (id uuid PRIMARY KEY, name text);

Good::

    CREATE TABLE public.labels (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        house_id uuid NOT NULL REFERENCES public.houses (id),
        name text,
        deleted_at timestamptz
    );
"""

CODE = "ARB001"
TITLE = "house-columns"
SCOPE = "schema"

EXPECTED = {"house_id": ("uuid", True), "deleted_at": ("timestamptz", False)}


def check(ctx):
    for table in ctx.schema.public_tables():
        for name, (type_, not_null) in EXPECTED.items():
            column = table.columns.get(name)
            spelled = f"{name} {type_}{' NOT NULL' if not_null else ''}"
            if column is None:
                yield table.where.finding(
                    CODE, f"table {table.name} has no {name} column",
                    f"add `{spelled}` to {table.name}", obj=table.name)
            elif column.type != type_ or (not_null and not column.not_null):
                yield column.where.finding(
                    CODE, f"{table.name}.{name} is `{column.type}{' NOT NULL' if column.not_null else ''}`",
                    f"declare it as `{spelled}`", obj=f"{table.name}.{name}")
