-- agents (model §4): read by every member of the house, written by admin+.
-- No WITH CHECK on UPDATE: PostgreSQL then checks the new row against USING,
-- and house_id cannot change (triggers/40_guards.sql). A soft-deleted row is
-- frozen for callers by the same file's freeze_deleted trigger.

DROP POLICY IF EXISTS agents_select ON public.agents;
-- An API key reads every agent of its house (and writes none).
CREATE POLICY agents_select ON public.agents
FOR SELECT TO authenticated
USING (
    house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('member')))
    OR house_id = (SELECT k.house_id FROM arbe.acting_key() AS k)
);

DROP POLICY IF EXISTS agents_insert ON public.agents;
CREATE POLICY agents_insert ON public.agents
FOR INSERT TO authenticated
WITH CHECK (
    house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('admin')))
    AND created_by = (SELECT arbe.caller_id())
);

DROP POLICY IF EXISTS agents_update ON public.agents;
CREATE POLICY agents_update ON public.agents
FOR UPDATE TO authenticated
USING (house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('admin'))));
