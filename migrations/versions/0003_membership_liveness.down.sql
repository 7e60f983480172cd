-- 0003 downgrade: back to house liveness read from houses.
-- Electric: members loses its house_deleted_at column (in no shape).
--
-- The declarative layer at head reads the column, so first put back what 0002's
-- layer had: the membership functions as they were, and no liveness triggers.
-- (`arbedb apply` re-declares the whole layer when it upgrades again.)

DROP TRIGGER IF EXISTS members_mirror_house_liveness ON public.members;
-- (Its update half, a trigger of its own since the layer's WHEN clauses.)
DROP TRIGGER IF EXISTS members_mirror_house_liveness_on_update ON public.members;
DROP TRIGGER IF EXISTS houses_cascade_liveness ON public.houses;
DROP FUNCTION IF EXISTS arbe.mirror_house_liveness();
DROP FUNCTION IF EXISTS arbe.cascade_house_liveness();

CREATE OR REPLACE FUNCTION arbe.caller_house_ids(min_role text DEFAULT 'member') RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER
ROWS 10
SET search_path = ''
AS $$
BEGIN
    RETURN QUERY
    SELECT m.house_id
    FROM public.members AS m
    WHERE m.user_id = arbe.caller_id()
      AND m.deleted_at IS NULL
      AND arbe.role_rank(m.role) >= arbe.role_rank(min_role)
      AND (SELECT h.deleted_at IS NULL FROM public.houses AS h WHERE h.id = m.house_id);
END
$$;

CREATE OR REPLACE FUNCTION arbe.house_role(house_id uuid) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = ''
AS $$
    SELECT m.role
    FROM public.members AS m
    JOIN public.houses AS h ON h.id = m.house_id
    WHERE m.house_id = house_role.house_id
      AND m.user_id = arbe.caller_id()
      AND m.deleted_at IS NULL
      AND h.deleted_at IS NULL
$$;

-- arbedb: ignore squawk:require-concurrent-index-deletion because CONCURRENTLY cannot run in the apply's transaction, and the index is on the small members table
DROP INDEX public.members_caller_live_idx;
ALTER TABLE public.members DROP COLUMN house_deleted_at;
