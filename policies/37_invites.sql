-- invites (model §4): admin+ of the house read and revoke them. There is no INSERT
-- policy: rows are created only by arbe.create_invite, which also stores the hash
-- of the credential it returns once. Column privileges (00_privileges.sql) limit
-- a caller's UPDATE to deleted_at.

DROP POLICY IF EXISTS invites_select ON public.invites;
CREATE POLICY invites_select ON public.invites
FOR SELECT TO authenticated
USING (house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('admin'))));

DROP POLICY IF EXISTS invites_update ON public.invites;
CREATE POLICY invites_update ON public.invites
FOR UPDATE TO authenticated
USING (house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('admin'))));
