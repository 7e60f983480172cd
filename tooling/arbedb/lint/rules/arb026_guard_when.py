"""A guard trigger's WHEN lets in every write its rule is about.

What: the project's guard functions run only when their trigger's WHEN says so
(issue 19: the common write never enters PL/pgSQL), so the WHEN is part of the rule:

- ``arbe.touch_updated_at``: the WHEN is ``record_image_ne(old, new)``; without
  it updated_at moves on writes that change nothing (the function no longer checks).
- ``arbe.keep_immutable``: a WHEN, if any, compares ``old.c`` with ``new.c`` for
  every column the arguments name (``once:c`` too).
- ``arbe.stamp_dated``: a WHEN, if any, reads ``new.deleted_at`` and ``new.c``
  for every column the arguments name.

Why: the function trusts that it is called whenever its rule applies. A WHEN
that leaves out a column leaves that column mutable, or its date the client's.

Bad::

    CREATE TRIGGER labels_keep_immutable BEFORE UPDATE ON public.labels
    FOR EACH ROW WHEN ((old.id, old.house_id) IS DISTINCT FROM (new.id, new.house_id))
    EXECUTE FUNCTION arbe.keep_immutable('id', 'house_id', 'created_by');

Good::

    CREATE TRIGGER labels_keep_immutable BEFORE UPDATE ON public.labels
    FOR EACH ROW WHEN ((old.id, old.house_id, old.created_by) IS DISTINCT FROM (new.id, new.house_id, new.created_by))
    EXECUTE FUNCTION arbe.keep_immutable('id', 'house_id', 'created_by');
"""

from pglast import ast

from ..nodes import func_call_name, walk

CODE = "ARB026"
TITLE = "guard-when"
SCOPE = "schema"

TOUCH, IMMUTABLE, DATED = "arbe.touch_updated_at", "arbe.keep_immutable", "arbe.stamp_dated"


def _refs(node) -> set[tuple[str, str]]:
    """(old|new, column) for each column reference in the WHEN; (old|new, '*') for a whole row."""
    out = set()
    for item in walk(node):
        if isinstance(item, ast.ColumnRef) and len(item.fields) in (1, 2):
            first, *rest = item.fields
            if isinstance(first, ast.String) and first.sval in ("old", "new"):
                # `old` as written, `old.*` as pg_get_triggerdef writes it back: the whole row
                out.add((first.sval, rest[0].sval if rest and isinstance(rest[0], ast.String) else "*"))
    return out


def _compares_images(node) -> bool:
    if isinstance(node, ast.FuncCall) and func_call_name(node).split(".")[-1] == "record_image_ne":
        args = node.args or ()
        return len(args) == 2 and [_refs(a) for a in args] == [{("old", "*")}, {("new", "*")}]
    return False


def _missing(trigger) -> list[str]:
    if trigger.function == TOUCH:
        return [] if trigger.when is not None and _compares_images(trigger.when) else ["record_image_ne(old, new)"]
    if trigger.when is None:
        return []  # no WHEN: the function sees every write and checks them all
    refs = _refs(trigger.when)
    columns = [a.removeprefix("once:") for a in trigger.args]
    if trigger.function == IMMUTABLE:
        return [f"{side}.{c}" for c in columns for side in ("old", "new") if (side, c) not in refs]
    return [f"new.{c}" for c in ["deleted_at", *columns] if ("new", c) not in refs]


def check(ctx):
    for trigger in ctx.schema.triggers.values():
        if trigger.function not in (TOUCH, IMMUTABLE, DATED):
            continue
        missing = _missing(trigger)
        if missing:
            yield trigger.where.finding(
                CODE, f"trigger {trigger.name} on {trigger.table}: its WHEN lets writes of "
                      f"{', '.join(missing)} past {trigger.function}()",
                "write the WHEN as triggers/ does (`arbedb new-table` scaffolds it)", obj=f"{trigger.table}.{trigger.name}")
