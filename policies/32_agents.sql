-- agents (SPEC §5): read by every member of the house, written by admin+.
-- Rows already soft-deleted are out of reach of UPDATE: deleting is one-way for
-- callers (restoring is a service_role operation).

DROP POLICY IF EXISTS agents_select ON public.agents;
CREATE POLICY agents_select ON public.agents
FOR SELECT TO authenticated
USING (house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('member'))));

DROP POLICY IF EXISTS agents_insert ON public.agents;
CREATE POLICY agents_insert ON public.agents
FOR INSERT TO authenticated
WITH CHECK (house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('admin')))
    AND created_by = (SELECT arbe.caller_id()));

DROP POLICY IF EXISTS agents_update ON public.agents;
CREATE POLICY agents_update ON public.agents
FOR UPDATE TO authenticated
USING (deleted_at IS NULL AND house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('admin'))))
WITH CHECK (house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('admin'))));
