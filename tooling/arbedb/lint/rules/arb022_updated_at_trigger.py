"""A table with ``updated_at`` has a BEFORE UPDATE row trigger that sets it.

What: for each public table with an ``updated_at`` column, a ``BEFORE UPDATE …
FOR EACH ROW`` trigger whose function assigns ``NEW.updated_at`` (read from the
function body with the PL/pgSQL parser).

Why: ``updated_at`` is the server's clock (docs/model.md §3); without the trigger it
keeps the insert time forever, or whatever a client chose to send.

Bad::

    CREATE TABLE public.labels (..., updated_at timestamptz NOT NULL DEFAULT now(), ...);
    -- no trigger

Good::

    CREATE OR REPLACE TRIGGER labels_touch_updated_at BEFORE UPDATE ON public.labels
    FOR EACH ROW EXECUTE FUNCTION arbe.touch_updated_at();
"""

from ..plpgsql import body

CODE = "ARB022"
TITLE = "updated-at-trigger"
SCOPE = "schema"


def touches(schema, trigger) -> bool:
    if not (trigger.before and trigger.row and "update" in trigger.events):
        return False
    return any("updated_at" in body(fn).new_fields for fn in schema.functions_named(trigger.function))


def check(ctx):
    for table in ctx.schema.public_tables():
        if "updated_at" in table.columns and not any(touches(ctx.schema, t) for t in ctx.schema.triggers_on(table.name)):
            yield table.where.finding(
                CODE, f"nothing keeps {table.name}.updated_at current",
                f"add `CREATE OR REPLACE TRIGGER {table.short}_touch_updated_at BEFORE UPDATE ON {table.name} "
                "FOR EACH ROW EXECUTE FUNCTION arbe.touch_updated_at();` in triggers/", obj=table.name)
