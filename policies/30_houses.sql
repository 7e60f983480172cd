-- houses (SPEC §5): read by members; created by anyone for themselves; renamed by
-- admin+, soft-deleted by the owner (the owner-only part is the guard trigger in
-- triggers/40_guards.sql: a policy cannot compare the old row with the new one).

DROP POLICY IF EXISTS houses_select ON public.houses;
-- The second arm exists for INSERT … RETURNING: PostgreSQL checks the new row
-- against this policy before the AFTER trigger has made the creator its owner.
-- It only ever matches a house that has no membership row at all, live or not,
-- so a creator who later leaves does not keep seeing it.
CREATE POLICY houses_select ON public.houses
FOR SELECT TO authenticated
USING (
    house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('member')))
    OR (created_by = (SELECT arbe.caller_id()) AND NOT arbe.house_has_members(id))
);

DROP POLICY IF EXISTS houses_insert ON public.houses;
CREATE POLICY houses_insert ON public.houses
FOR INSERT TO authenticated
WITH CHECK (created_by = (SELECT arbe.caller_id()));

DROP POLICY IF EXISTS houses_update ON public.houses;
-- No WITH CHECK: the new row is checked against USING; house_id cannot change.
CREATE POLICY houses_update ON public.houses
FOR UPDATE TO authenticated
USING (house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('admin'))));
