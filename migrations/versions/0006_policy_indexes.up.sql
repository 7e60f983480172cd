-- 0006: every policy's predicate is served by an index for every caller,
-- whatever other tenants store.
--
-- The houses and members SELECT policies are ORs (policies/30_houses.sql,
-- policies/31_members.sql). PostgreSQL serves an OR with an index only when
-- every arm has one; without the first two indexes, each caller's read of houses
-- or members was a sequential scan over every tenant's rows, and any caller
-- could make it slower for everyone by creating houses.
--
-- houses_created_by_idx serves the creator arm (`created_by = caller`). Partial:
-- houses with no author (made by server code) can never match it.
-- members_user_idx serves `user_id = caller` over every membership, live or
-- not (a caller sees the ones they left, too); it also serves the cascade when
-- an auth.users row is deleted.
--
-- threads, configs, secrets, invites and api_keys had only partial house_id
-- indexes (WHERE deleted_at IS NULL, the shape's own): a read that does not say
-- `deleted_at IS NULL` (`SELECT * FROM threads` through the Data API) could use
-- none of them and scanned every tenant's rows, soft-deleted ones included.
-- agents, environments
-- and members already have a full (house_id, …) index. The partial indexes stay:
-- smaller, they serve the shapes. The new ones carry deleted_at too, so that
-- `house_id = $1 AND deleted_at IS NULL` is an index condition on them as well:
-- with house_id alone the planner sometimes took the full index for the shape
-- read under RLS and filtered out the deleted rows one by one (bench/rls_overhead.py (b)).
--
-- Electric: no column changes; indexes are not part of any shape, nothing re-syncs.

-- arbedb: ignore squawk:require-concurrent-index-creation because CONCURRENTLY cannot run in the apply's transaction; the build holds writes to houses for about 0.1 s per 100,000 houses, under the apply's lock_timeout (build it CONCURRENTLY by hand first on a very large table: this statement then finds it)
CREATE INDEX IF NOT EXISTS houses_created_by_idx ON public.houses (created_by) WHERE created_by IS NOT NULL;
-- arbedb: ignore squawk:require-concurrent-index-creation because CONCURRENTLY cannot run in the apply's transaction; members is one row per membership and the build holds its writes for milliseconds
CREATE INDEX IF NOT EXISTS members_user_idx ON public.members (user_id);
-- arbedb: ignore squawk:require-concurrent-index-creation because CONCURRENTLY cannot run in the apply's transaction; on a large threads table build it CONCURRENTLY by hand first (about 1 s of held writes per million rows otherwise), and this statement then finds it
CREATE INDEX IF NOT EXISTS threads_house_idx ON public.threads (house_id, deleted_at);
-- arbedb: ignore squawk:require-concurrent-index-creation because CONCURRENTLY cannot run in the apply's transaction; configs holds a few rows per agent and environment
CREATE INDEX IF NOT EXISTS configs_house_idx ON public.configs (house_id, deleted_at);
-- arbedb: ignore squawk:require-concurrent-index-creation because CONCURRENTLY cannot run in the apply's transaction; secrets holds a few rows per environment
CREATE INDEX IF NOT EXISTS secrets_house_idx ON public.secrets (house_id, deleted_at);
-- arbedb: ignore squawk:require-concurrent-index-creation because CONCURRENTLY cannot run in the apply's transaction; invites holds a few rows per house
CREATE INDEX IF NOT EXISTS invites_house_idx ON public.invites (house_id, deleted_at);
-- arbedb: ignore squawk:require-concurrent-index-creation because CONCURRENTLY cannot run in the apply's transaction; api_keys holds a few rows per agent
CREATE INDEX IF NOT EXISTS api_keys_house_idx ON public.api_keys (house_id, deleted_at);
