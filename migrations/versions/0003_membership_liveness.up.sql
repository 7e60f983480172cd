-- 0003: members.house_deleted_at mirrors houses.deleted_at (kept by
-- triggers/25_membership_liveness.sql, whoever writes).
--
-- Why a copy: every RLS-gated statement starts by collecting the caller's live
-- houses (arbe.caller_house_ids). With house liveness only on houses, that is
-- one houses probe per membership: for a caller in 100 houses it was most of
-- what RLS added to a 450-row shape query (bench/rls_overhead.py, README). With
-- the copy it is a single index-only scan of members_caller_live_idx.
--
-- Electric: members gains a column. It is not in any shape's columns
-- (electric/shapes.toml), so no client sees it; a house's soft delete or
-- restore now also streams an UPDATE of each of its memberships.

ALTER TABLE public.members ADD COLUMN house_deleted_at timestamptz;
COMMENT ON COLUMN public.members.house_deleted_at
IS 'copy of the house''s deleted_at, kept by a trigger; read by arbe.caller_house_ids';

UPDATE public.members AS m SET house_deleted_at = h.deleted_at
FROM public.houses AS h
WHERE h.id = m.house_id AND h.deleted_at IS NOT NULL;

-- The caller's live memberships in live houses, with all the lookup returns:
-- an index-only scan, no heap visit.
-- arbedb: ignore squawk:require-concurrent-index-creation because CONCURRENTLY cannot run in the apply's transaction, and members is small (one row per membership): the build holds writes to it for milliseconds, under the apply's lock_timeout
CREATE INDEX members_caller_live_idx ON public.members (user_id) INCLUDE (house_id, role)
WHERE deleted_at IS NULL AND house_deleted_at IS NULL;
