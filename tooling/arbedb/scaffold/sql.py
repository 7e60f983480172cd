"""The SQL `arbedb new-table` writes: the house-table conventions of this repository, once.

Each template is what a reviewer would ask for on a new house-scoped table
(docs/model.md §3-§5, and the lint rules that check them): the common columns, a real
foreign key to houses, the parent bound by a composite key, the shape index,
RLS enabled and forced, grants that start from nothing, policies whose
membership calls run once per statement, and the triggers every table carries.
The roles the policies ask for are the declaration's (policies/permissions.toml,
written by the same command): members read and admins write unless --read/--write
say otherwise; rows are created as the caller. API keys get nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class NewTable:
    name: str
    parent: str | None = None  # a house-scoped table this one hangs off, e.g. "agents"
    parent_column: str | None = None  # "agent_id"
    synced: bool = True
    read: str = "member"  # the minimum house role to SELECT
    write: str = "admin"  # the minimum house role to INSERT and UPDATE


UP = """\
-- add {{ t.name }}: a house-scoped table, scaffolded by `arbedb new-table`.
--
{% if t.synced %}-- Electric: creates public.{{ t.name }}, a synced table; Electric builds its shapes from scratch.
{% else %}-- Not synced: public.{{ t.name }} is in no publication and no shape (arbedb new-table --not-synced).
{% endif %}--
-- Add this table's own columns after house_id: text with a CHECK rather than an
-- enum (Electric rejects enum comparisons), no credential material (it belongs in
-- arbe_private).{% if t.synced %} List every column in electric/shapes.toml too.{% endif %}

CREATE TABLE public.{{ t.name }} (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    house_id uuid NOT NULL REFERENCES public.houses (id),
{% if t.parent %}    {{ t.parent_column }} uuid NOT NULL,
{% endif %}    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz{% if t.parent %},
    -- A {{ t.name }} row and its {{ t.parent }} row are always in the same house.
    CONSTRAINT {{ t.name }}_{{ t.parent_column[:-3] }}_same_house
    FOREIGN KEY (house_id, {{ t.parent_column }}) REFERENCES public.{{ t.parent }} (house_id, id){% endif %}
);

-- The shape and RLS scope: house_id = $1 AND deleted_at IS NULL.
CREATE INDEX {{ t.name }}_house_live_idx ON public.{{ t.name }} (house_id) WHERE deleted_at IS NULL;
{% if t.parent %}CREATE INDEX {{ t.name }}_{{ t.parent_column[:-3] }}_idx ON public.{{ t.name }} (house_id, {{ t.parent_column }});
{% endif %}
ALTER TABLE public.{{ t.name }} ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
"""

DOWN = """\
-- add {{ t.name }}: downgrade.
{% if t.synced %}-- Electric: drops public.{{ t.name }}, a synced table; its shapes end.
{% endif %}DROP TABLE public.{{ t.name }};
"""

POLICIES = """\
-- {{ t.name }} (scaffolded by `arbedb new-table`): read by {{ t.read }}+ of the house,
-- written by {{ t.write }}+, created as the caller; no authenticated DELETE (soft delete).
-- Changing who may do what? Change this file and its declaration in the
-- permission declarations (tables.{{ t.name }}) together; `arbedb rls-test` holds
-- one to the other and `arbedb matrix` shows the result.

-- Start from nothing (Supabase's default privileges grant anon everything on new tables).
REVOKE ALL ON public.{{ t.name }} FROM anon, authenticated, PUBLIC;
GRANT SELECT, INSERT, UPDATE ON public.{{ t.name }} TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.{{ t.name }} TO service_role;

DROP POLICY IF EXISTS {{ t.name }}_select ON public.{{ t.name }};
CREATE POLICY {{ t.name }}_select ON public.{{ t.name }}
FOR SELECT TO authenticated
USING (house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('{{ t.read }}'))));

DROP POLICY IF EXISTS {{ t.name }}_insert ON public.{{ t.name }};
CREATE POLICY {{ t.name }}_insert ON public.{{ t.name }}
FOR INSERT TO authenticated
WITH CHECK (
    house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('{{ t.write }}')))
    AND created_by = (SELECT arbe.caller_id())
);

-- No WITH CHECK: the new row is checked against USING, and house_id never changes.
DROP POLICY IF EXISTS {{ t.name }}_update ON public.{{ t.name }};
CREATE POLICY {{ t.name }}_update ON public.{{ t.name }}
FOR UPDATE TO authenticated
USING (house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('{{ t.write }}'))));
"""

TRIGGERS = """\
-- {{ t.name }} (scaffolded by `arbedb new-table`): the triggers every house table carries.
-- Each WHEN lets in only the writes its rule is about, so the common write never
-- enters PL/pgSQL (triggers/*.sql say why each WHEN is enough).
CREATE OR REPLACE TRIGGER {{ t.name }}_touch_updated_at BEFORE UPDATE ON public.{{ t.name }}
FOR EACH ROW WHEN (record_image_ne(old, new)) EXECUTE FUNCTION arbe.touch_updated_at();
-- A caller's INSERT carries the client's clock; the row keeps the server's.
CREATE OR REPLACE TRIGGER {{ t.name }}_stamp_inserted BEFORE INSERT ON public.{{ t.name }}
FOR EACH ROW EXECUTE FUNCTION arbe.stamp_inserted();
CREATE OR REPLACE TRIGGER {{ t.name }}_fill_created_by BEFORE INSERT ON public.{{ t.name }}
FOR EACH ROW WHEN (new.created_by IS NULL) EXECUTE FUNCTION arbe.fill_created_by();
{% if t.parent %}-- house_id comes from the {{ t.parent }} row when the insert does not give it.
CREATE OR REPLACE TRIGGER {{ t.name }}_inherit_house_id BEFORE INSERT ON public.{{ t.name }}
FOR EACH ROW WHEN (new.house_id IS NULL)
EXECUTE FUNCTION arbe.inherit_house_id('{{ t.parent_column }}', '{{ t.parent }}');
{% endif %}-- The WHEN names every column the arguments name (lint ARB026).
CREATE OR REPLACE TRIGGER {{ t.name }}_keep_immutable BEFORE UPDATE ON public.{{ t.name }}
FOR EACH ROW WHEN (
    (old.id, old.house_id, old.created_by, old.created_at)
    IS DISTINCT FROM (new.id, new.house_id, new.created_by, new.created_at)
)
EXECUTE FUNCTION arbe.keep_immutable('id', 'house_id', 'created_by', 'created_at');
CREATE OR REPLACE TRIGGER {{ t.name }}_freeze_deleted BEFORE UPDATE ON public.{{ t.name }}
FOR EACH ROW WHEN (old.deleted_at IS NOT NULL) EXECUTE FUNCTION arbe.freeze_deleted();
CREATE OR REPLACE TRIGGER {{ t.name }}_stamp_dated BEFORE INSERT OR UPDATE ON public.{{ t.name }}
FOR EACH ROW WHEN (new.deleted_at IS NOT NULL) EXECUTE FUNCTION arbe.stamp_dated();
"""

def declaration(table: NewTable):
    """The table's entry in the permission declarations (a tomlkit table, so the file keeps
    its comments): the rule the policies above enforce."""
    import tomlkit

    entry = tomlkit.table()
    if table.parent:
        parent = tomlkit.inline_table()
        parent.update({"column": table.parent_column, "table": table.parent, "required": True})
        parents = tomlkit.array()
        parents.append(parent)
        entry["parents"] = parents
    entry["read"] = table.read
    entry["write"] = table.write
    entry["insert"] = "direct"
    entry["columns"] = [*([table.parent_column] if table.parent else []), "created_by"]
    entry["immutable"] = ["house_id", "created_by"]
    return entry


@cache
def _template(text: str):
    from jinja2 import Environment, StrictUndefined

    # SQL, not HTML: nothing to escape; identifiers were validated before rendering.
    return Environment(autoescape=False, undefined=StrictUndefined, keep_trailing_newline=True).from_string(text)


def render(template: str, table: NewTable) -> str:
    return _template(template).render(t=table)
