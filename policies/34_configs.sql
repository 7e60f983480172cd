-- configs (SPEC §5): read by every member of the house, written by admin+.
-- No WITH CHECK on UPDATE: PostgreSQL then checks the new row against USING,
-- and house_id cannot change (triggers/40_guards.sql). A soft-deleted row is
-- frozen for callers by the same file's freeze_deleted trigger.

DROP POLICY IF EXISTS configs_select ON public.configs;
CREATE POLICY configs_select ON public.configs
FOR SELECT TO authenticated
USING (house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('member'))));

DROP POLICY IF EXISTS configs_insert ON public.configs;
CREATE POLICY configs_insert ON public.configs
FOR INSERT TO authenticated
WITH CHECK (house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('admin'))));

DROP POLICY IF EXISTS configs_update ON public.configs;
CREATE POLICY configs_update ON public.configs
FOR UPDATE TO authenticated
USING (house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('admin'))));
