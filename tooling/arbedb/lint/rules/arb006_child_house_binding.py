"""A child's ``house_id`` is bound to its parent's: a composite foreign key, or the inheriting trigger.

What: for a column ``<parent>_id`` in a public table that points at another
house-scoped table (by foreign key, or by name: ``agent_id`` -> ``agents``),
either a foreign key ``(house_id, <parent>_id) REFERENCES parent (house_id, id)``
exists, or a BEFORE INSERT row trigger sets ``NEW.house_id`` from the parent.

Why: otherwise a thread in house A can point at an agent of house B; the row is
visible to A's members (its own house_id) and leaks B's agent through the join.

Bad::

    CREATE TABLE public.threads (..., agent_id uuid REFERENCES public.agents (id), ...);

Good::

    CREATE TABLE public.threads (
        ...,
        agent_id uuid,
        CONSTRAINT threads_agent_same_house FOREIGN KEY (house_id, agent_id)
            REFERENCES public.agents (house_id, id)
    );
"""

from pglast.visitors import referenced_relations

from ..plpgsql import body

CODE = "ARB006"
TITLE = "child-house-binding"
SCOPE = "schema"


def parents_of(table, column: str, tables: dict) -> set[str]:
    """House-scoped tables ``column`` points at, by foreign key or by its name."""
    found = {fk.ref_table for fk in table.foreign_keys if column in fk.columns}
    by_name = f"{table.schema}.{column[:-3]}s"
    if by_name in tables:
        found.add(by_name)
    return {p for p in found if p != "public.houses" and p in tables and "house_id" in tables[p].columns}


def composite_bound(table, column: str, parent: str) -> bool:
    for fk in table.foreign_keys:
        if fk.ref_table != parent or set(fk.columns) != {"house_id", column}:
            continue
        pairs = dict(zip(fk.columns, fk.ref_columns))
        if pairs.get("house_id") == "house_id" and pairs.get(column) == "id":
            return True
    return False


def trigger_bound(schema, table, parent: str) -> bool:
    """A BEFORE INSERT row trigger whose function sets NEW.house_id and reads the parent
    (named in its body, or handed to it as a trigger argument)."""
    for trigger in schema.triggers_on(table.name):
        if not (trigger.before and trigger.row and "insert" in trigger.events):
            continue
        for fn in schema.functions_named(trigger.function):
            parsed = body(fn)
            reads = {name for s in parsed.statements for name in _relations(s.node)} | set(trigger.args)
            if "house_id" in parsed.new_fields and (parent in reads or parent.split(".", 1)[1] in reads):
                return True
    return False


def _relations(node) -> set[str]:
    try:
        return set(referenced_relations(node))
    except Exception:  # noqa: BLE001 - statements pglast cannot walk name no relation
        return set()


def check(ctx):
    tables = ctx.schema.tables
    for table in ctx.schema.public_tables():
        if "house_id" not in table.columns:
            continue
        for column in table.columns.values():
            if not column.name.endswith("_id") or column.name == "house_id":
                continue
            for parent in sorted(parents_of(table, column.name, tables)):
                if composite_bound(table, column.name, parent) or trigger_bound(ctx.schema, table, parent):
                    continue
                yield column.where.finding(
                    CODE, f"{table.name}.{column.name} can point at a {parent} row of another house",
                    f"add `FOREIGN KEY (house_id, {column.name}) REFERENCES {parent} (house_id, id)` "
                    f"(and UNIQUE (house_id, id) on {parent}), or a BEFORE INSERT trigger copying the parent's house_id",
                    obj=f"{table.name}.{column.name}")
