-- configs (model §4): read by every member of the house, written by admin+.
-- No WITH CHECK on UPDATE: PostgreSQL then checks the new row against USING,
-- and house_id cannot change (triggers/40_guards.sql). A soft-deleted row is
-- frozen for callers by the same file's freeze_deleted trigger.

DROP POLICY IF EXISTS configs_select ON public.configs;
-- An API key reads its agent's configs and the house-wide ones (no agent, no
-- environment). For a house-wide key caller_agent_id() is NULL, so `agent_id =`
-- matches nothing and only the house-wide configs remain.
CREATE POLICY configs_select ON public.configs
FOR SELECT TO authenticated
USING (
    house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('member')))
    OR (
        house_id = (SELECT k.house_id FROM arbe.acting_key() AS k)
        AND (
            agent_id = (SELECT k.agent_id FROM arbe.acting_key() AS k) OR (agent_id IS NULL AND environment_id IS NULL)
        )
    )
);

DROP POLICY IF EXISTS configs_insert ON public.configs;
CREATE POLICY configs_insert ON public.configs
FOR INSERT TO authenticated
WITH CHECK (house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('admin'))));

DROP POLICY IF EXISTS configs_update ON public.configs;
CREATE POLICY configs_update ON public.configs
FOR UPDATE TO authenticated
USING (house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('admin'))));
