-- environments (SPEC §5): read by every member of the house, written by admin+.
-- Rows already soft-deleted are out of reach of UPDATE: deleting is one-way for
-- callers (restoring is a service_role operation).

DROP POLICY IF EXISTS environments_select ON public.environments;
CREATE POLICY environments_select ON public.environments
FOR SELECT TO authenticated
USING (house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('member'))));

DROP POLICY IF EXISTS environments_insert ON public.environments;
CREATE POLICY environments_insert ON public.environments
FOR INSERT TO authenticated
WITH CHECK (house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('admin')))
    AND created_by = (SELECT arbe.caller_id()));

DROP POLICY IF EXISTS environments_update ON public.environments;
CREATE POLICY environments_update ON public.environments
FOR UPDATE TO authenticated
USING (deleted_at IS NULL AND house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('admin'))))
WITH CHECK (house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('admin'))));
