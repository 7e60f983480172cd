-- 0006 downgrade: the policies keep working without these indexes, only slower.
-- Electric: no column changes; nothing re-syncs.

-- arbedb: ignore squawk:require-concurrent-index-deletion because CONCURRENTLY cannot run in the apply's transaction, and dropping an index is quick
DROP INDEX IF EXISTS public.houses_created_by_idx;
-- arbedb: ignore squawk:require-concurrent-index-deletion because CONCURRENTLY cannot run in the apply's transaction, and dropping an index is quick
DROP INDEX IF EXISTS public.members_user_idx;
-- arbedb: ignore squawk:require-concurrent-index-deletion because CONCURRENTLY cannot run in the apply's transaction, and dropping an index is quick
DROP INDEX IF EXISTS public.threads_house_idx;
-- arbedb: ignore squawk:require-concurrent-index-deletion because CONCURRENTLY cannot run in the apply's transaction, and dropping an index is quick
DROP INDEX IF EXISTS public.configs_house_idx;
-- arbedb: ignore squawk:require-concurrent-index-deletion because CONCURRENTLY cannot run in the apply's transaction, and dropping an index is quick
DROP INDEX IF EXISTS public.secrets_house_idx;
-- arbedb: ignore squawk:require-concurrent-index-deletion because CONCURRENTLY cannot run in the apply's transaction, and dropping an index is quick
DROP INDEX IF EXISTS public.invites_house_idx;
-- arbedb: ignore squawk:require-concurrent-index-deletion because CONCURRENTLY cannot run in the apply's transaction, and dropping an index is quick
DROP INDEX IF EXISTS public.api_keys_house_idx;
