-- api_keys (model §4): admin+ of the house read and revoke them. There is no INSERT
-- policy: rows are created only by arbe.create_api_key, which also stores the hash
-- of the credential it returns once. Column privileges (00_privileges.sql) limit
-- a caller's UPDATE to revoked_at and deleted_at.

DROP POLICY IF EXISTS api_keys_select ON public.api_keys;
CREATE POLICY api_keys_select ON public.api_keys
FOR SELECT TO authenticated
USING (house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('admin'))));

DROP POLICY IF EXISTS api_keys_update ON public.api_keys;
CREATE POLICY api_keys_update ON public.api_keys
FOR UPDATE TO authenticated
USING (house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('admin'))));
