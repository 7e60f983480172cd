-- 0006: the houses and members SELECT policies are ORs (policies/30_houses.sql,
-- policies/31_members.sql). PostgreSQL serves an OR with an index only when
-- every arm has one; without these two, each caller's read of houses or members
-- was a sequential scan over every tenant's rows, and any caller could make it
-- slower for everyone by creating houses.
--
-- houses_created_by_idx serves the creator arm (`created_by = caller`). Partial:
-- houses with no author (made by server code) can never match it.
-- members_user_idx serves `user_id = caller` over every membership, live or
-- not (a caller sees the ones they left, too); it also serves the cascade when
-- an auth.users row is deleted.
--
-- Electric: no column changes; indexes are not part of any shape, nothing re-syncs.

-- arbedb: ignore squawk:require-concurrent-index-creation because CONCURRENTLY cannot run in the apply's transaction; the build holds writes to houses for about 0.1 s per 100,000 houses, under the apply's lock_timeout (build it CONCURRENTLY by hand first on a very large table: this statement then finds it)
CREATE INDEX IF NOT EXISTS houses_created_by_idx ON public.houses (created_by) WHERE created_by IS NOT NULL;
-- arbedb: ignore squawk:require-concurrent-index-creation because CONCURRENTLY cannot run in the apply's transaction; members is one row per membership and the build holds its writes for milliseconds
CREATE INDEX IF NOT EXISTS members_user_idx ON public.members (user_id);
