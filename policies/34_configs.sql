-- configs (SPEC §5): read by every member of the house, written by admin+.
-- Rows already soft-deleted are out of reach of UPDATE: deleting is one-way for
-- callers (restoring is a service_role operation).

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
USING (deleted_at IS NULL AND house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('admin'))))
WITH CHECK (house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('admin'))));
