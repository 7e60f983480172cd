-- threads (SPEC §5): any member of the house reads, creates (as themselves) and
-- updates them; transcripts are not here, only metadata.

DROP POLICY IF EXISTS threads_select ON public.threads;
CREATE POLICY threads_select ON public.threads
FOR SELECT TO authenticated
USING (house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('member'))));

DROP POLICY IF EXISTS threads_insert ON public.threads;
CREATE POLICY threads_insert ON public.threads
FOR INSERT TO authenticated
WITH CHECK (
    house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('member')))
    AND created_by = (SELECT arbe.caller_id())
);

DROP POLICY IF EXISTS threads_update ON public.threads;
CREATE POLICY threads_update ON public.threads
FOR UPDATE TO authenticated
USING (house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('member'))));
