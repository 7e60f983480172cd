"""``house_id`` is a foreign key to ``public.houses (id)`` on every table but houses.

Why: the database, not the caller, guarantees a row belongs to a house that
exists. A composite key to a parent is not enough on its own: with the parent
column NULL (a house-wide config) PostgreSQL does not check it, and the row's
``house_id`` could name any value.

Bad::

    CREATE TABLE public.labels (id uuid PRIMARY KEY, house_id uuid NOT NULL, deleted_at timestamptz);

Good::

    CREATE TABLE public.labels (
        id uuid PRIMARY KEY,
        house_id uuid NOT NULL REFERENCES public.houses (id),
        deleted_at timestamptz
    );
"""

CODE = "ARB005"
TITLE = "house-fk"
SCOPE = "schema"

HOUSES = "public.houses"


def references_houses(table) -> bool:
    return any(fk.columns == ("house_id",) and fk.ref_table == HOUSES and fk.ref_columns in ((), ("id",))
               for fk in table.foreign_keys)


def check(ctx):
    for table in ctx.schema.public_tables():
        if table.name == HOUSES or "house_id" not in table.columns or references_houses(table):
            continue
        yield table.columns["house_id"].where.finding(
            CODE, f"{table.name}.house_id does not reference {HOUSES} (id)",
            f"declare `house_id uuid NOT NULL REFERENCES {HOUSES} (id)`", obj=f"{table.name}.house_id")
