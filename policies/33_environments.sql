-- environments (model §4): read by every member of the house, written by admin+.
-- No WITH CHECK on UPDATE: PostgreSQL then checks the new row against USING,
-- and house_id cannot change (triggers/40_guards.sql). A soft-deleted row is
-- frozen for callers by the same file's freeze_deleted trigger.

DROP POLICY IF EXISTS environments_select ON public.environments;
-- An API key reads every environment of its house (and writes none).
CREATE POLICY environments_select ON public.environments
FOR SELECT TO authenticated
USING (
    house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('member')))
    OR house_id = (SELECT k.house_id FROM arbe.acting_key() AS k)
);

DROP POLICY IF EXISTS environments_insert ON public.environments;
CREATE POLICY environments_insert ON public.environments
FOR INSERT TO authenticated
WITH CHECK (
    house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('admin')))
    AND created_by = (SELECT arbe.caller_id())
);

DROP POLICY IF EXISTS environments_update ON public.environments;
CREATE POLICY environments_update ON public.environments
FOR UPDATE TO authenticated
USING (house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('admin'))));
