-- threads (model §4): any member of the house reads, creates (as themselves) and
-- updates them; transcripts are not here, only metadata.
--
-- An API key bound to agent A reads, creates and updates the threads of A in
-- its house; created_by stays NULL (a key is not a user). Which columns a key
-- may change (status, title, usage) is the guard in triggers/40_guards.sql: a
-- policy sees only the new row, and column grants cannot tell a key from a
-- user (both are `authenticated`). A house-wide key (caller_agent_id() NULL)
-- matches no thread: `agent_id = NULL` is never true.
-- house_id is named next to agent_id although the composite foreign key
-- (house_id, agent_id) already implies it: threads_agent_idx leads with it. Both
-- come from one arbe.acting_key() call: one key check per statement.

DROP POLICY IF EXISTS threads_select ON public.threads;
CREATE POLICY threads_select ON public.threads
FOR SELECT TO authenticated
USING (
    house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('member')))
    OR (house_id, agent_id) = (
        SELECT
            k.house_id,
            k.agent_id
        FROM arbe.acting_key() AS k
    )
);

DROP POLICY IF EXISTS threads_insert ON public.threads;
CREATE POLICY threads_insert ON public.threads
FOR INSERT TO authenticated
WITH CHECK (
    (
        house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('member')))
        AND created_by = (SELECT arbe.caller_id())
    )
    OR (
        (house_id, agent_id) = (
            SELECT
                k.house_id,
                k.agent_id
            FROM arbe.acting_key() AS k
        )
        AND created_by IS NULL
    )
);

DROP POLICY IF EXISTS threads_update ON public.threads;
-- No WITH CHECK: the new row is checked against USING, so a key cannot move a
-- thread to another agent either.
CREATE POLICY threads_update ON public.threads
FOR UPDATE TO authenticated
USING (
    house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('member')))
    OR (house_id, agent_id) = (
        SELECT
            k.house_id,
            k.agent_id
        FROM arbe.acting_key() AS k
    )
);

-- model §4b: the durable-stream proxy asks this before it forwards a read, a
-- tail or an entry write of a thread's stream. True exactly when the caller
-- (user or key) sees the thread under RLS and it is live. SECURITY INVOKER on
-- purpose: the answer *is* the threads_select policy, so it cannot drift from
-- it, and it can say nothing the caller's own SELECT would not (unknown,
-- deleted and other houses' threads are all just "no row").
CREATE OR REPLACE FUNCTION arbe.can_access_thread(thread_id uuid) RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN EXISTS (SELECT FROM public.threads AS t
                   WHERE t.id = can_access_thread.thread_id AND t.deleted_at IS NULL);
END
$$;

REVOKE ALL ON FUNCTION arbe.can_access_thread(uuid) FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION arbe.can_access_thread(uuid) TO authenticated;
