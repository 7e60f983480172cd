-- members (model §4): a caller sees their own memberships in any house (so the
-- client can list "my houses", including ones they left) and every membership
-- of the houses they belong to. Nobody inserts directly: house creation and
-- arbe.accept_invite do. Updates are narrowed here to the rows a caller may touch
-- at all (their own, or any row of a house where they are admin+); which changes
-- are allowed (role rules, removals, the last owner) is the guard trigger's job
-- in triggers/40_guards.sql, because it depends on the old and new row together.
--
-- Both arms of each policy are served by an index: `user_id = …` by
-- members_user_idx (revision 0006, every membership, live or not),
-- `house_id = ANY(…)` by members_house_idx; PostgreSQL ORs them as a BitmapOr.

DROP POLICY IF EXISTS members_select ON public.members;
CREATE POLICY members_select ON public.members
FOR SELECT TO authenticated
USING (
    user_id = (SELECT arbe.caller_id())
    OR house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('member')))
);

DROP POLICY IF EXISTS members_update ON public.members;
-- No WITH CHECK: the new row is checked against USING, which still holds since
-- house_id and user_id cannot change.
CREATE POLICY members_update ON public.members
FOR UPDATE TO authenticated
USING (
    (user_id = (SELECT arbe.caller_id()) AND house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('member'))))
    OR house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('admin')))
);
