-- secrets (SPEC §5): read by every member of the house, written by admin+.
-- Rows already soft-deleted are out of reach of UPDATE: deleting is one-way for
-- callers (restoring is a service_role operation).

DROP POLICY IF EXISTS secrets_select ON public.secrets;
CREATE POLICY secrets_select ON public.secrets
FOR SELECT TO authenticated
USING (house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('member'))));

DROP POLICY IF EXISTS secrets_insert ON public.secrets;
CREATE POLICY secrets_insert ON public.secrets
FOR INSERT TO authenticated
WITH CHECK (house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('admin')))
    AND created_by = (SELECT arbe.caller_id()));

DROP POLICY IF EXISTS secrets_update ON public.secrets;
CREATE POLICY secrets_update ON public.secrets
FOR UPDATE TO authenticated
USING (deleted_at IS NULL AND house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('admin'))))
WITH CHECK (house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('admin'))));
