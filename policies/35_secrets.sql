-- secrets (model §4): read by every member of the house, written by admin+.
-- No WITH CHECK on UPDATE: PostgreSQL then checks the new row against USING,
-- and house_id cannot change (triggers/40_guards.sql). A soft-deleted row is
-- frozen for callers by the same file's freeze_deleted trigger.

DROP POLICY IF EXISTS secrets_select ON public.secrets;
CREATE POLICY secrets_select ON public.secrets
FOR SELECT TO authenticated
USING (house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('member'))));

DROP POLICY IF EXISTS secrets_insert ON public.secrets;
CREATE POLICY secrets_insert ON public.secrets
FOR INSERT TO authenticated
WITH CHECK (
    house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('admin')))
    AND created_by = (SELECT arbe.caller_id())
);

DROP POLICY IF EXISTS secrets_update ON public.secrets;
CREATE POLICY secrets_update ON public.secrets
FOR UPDATE TO authenticated
USING (house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('admin'))));
