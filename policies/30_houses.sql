-- houses (model §4): read by members; created by anyone for themselves; renamed by
-- admin+, soft-deleted by the owner (the owner-only part is the guard trigger in
-- triggers/40_guards.sql: a policy cannot compare the old row with the new one).
--
-- Every arm is served by an index, whatever other tenants store: `id = ANY(…)`
-- by the primary key (a house's house_id is its id), `created_by = …` by
-- houses_created_by_idx (revision 0006); PostgreSQL ORs the two as a BitmapOr,
-- so a read costs the caller's own houses, never a scan of every tenant's
-- (bench/rls_overhead.py, "houses").
-- An API key (policies/10_identity.sql) reads its house and writes nothing here.

DROP POLICY IF EXISTS houses_select ON public.houses;
-- The second arm exists for INSERT … RETURNING: PostgreSQL checks the new row
-- against this policy before the AFTER trigger has made the creator its owner.
-- It only ever matches a house that has no membership row at all, live or not,
-- so a creator who later leaves does not keep seeing it. The per-row helper
-- runs only on rows the index found for `created_by = caller`: the caller's own
-- creations, never the houses of others (nor those created with no author).
CREATE POLICY houses_select ON public.houses
FOR SELECT TO authenticated
USING (
    id = ANY (ARRAY(SELECT arbe.caller_house_ids('member')))
    OR (created_by = (SELECT arbe.caller_id()) AND NOT arbe.created_house_has_members(id))
    OR id = (SELECT k.house_id FROM arbe.acting_key() AS k)  -- an API key sees its own house
);

DROP POLICY IF EXISTS houses_insert ON public.houses;
CREATE POLICY houses_insert ON public.houses
FOR INSERT TO authenticated
WITH CHECK (created_by = (SELECT arbe.caller_id()));

DROP POLICY IF EXISTS houses_update ON public.houses;
-- No WITH CHECK: the new row is checked against USING; house_id cannot change.
CREATE POLICY houses_update ON public.houses
FOR UPDATE TO authenticated
USING (id = ANY (ARRAY(SELECT arbe.caller_house_ids('admin'))));

-- Replaced by arbe.created_house_has_members, which answers about the caller's
-- own creations only (this one told any caller whether any house id exists).
-- arbedb: ignore squawk:ban-drop-function because no client may call it (the model names it nowhere) and nothing uses it after the policy above
DROP FUNCTION IF EXISTS arbe.house_has_members(uuid);
