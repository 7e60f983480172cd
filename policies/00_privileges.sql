-- Privileges: the first gate, before any policy is consulted.
--
-- RLS decides *which rows*; privileges decide *which commands and columns* a
-- role may attempt at all. Supabase's default privileges grant anon and
-- authenticated ALL on new tables in public, so we start from nothing and
-- grant back exactly what model §4 allows. A policy that is accidentally too
-- wide then still cannot open a command the grant never gave.

-- anon sees and writes nothing in this schema.
REVOKE ALL ON public.houses, public.members, public.agents, public.environments, public.threads,
public.configs, public.secrets, public.invites, public.api_keys FROM anon, authenticated, PUBLIC;

-- No authenticated DELETE anywhere: rows are soft-deleted with deleted_at.
GRANT SELECT, INSERT, UPDATE ON public.houses, public.agents, public.environments, public.threads,
public.configs, public.secrets TO authenticated;

-- members: only house creation (trigger) and arbe.accept_invite insert them.
GRANT SELECT, UPDATE ON public.members TO authenticated;

-- invites and api_keys are created only by arbe.create_invite / arbe.create_api_key;
-- a caller may only revoke them. Column grants make everything else (email, role,
-- accepted_at, prefix, last_used_at, ...) unwritable without any trigger logic.
GRANT SELECT ON public.invites, public.api_keys TO authenticated;
GRANT UPDATE (deleted_at) ON public.invites TO authenticated;
GRANT UPDATE (revoked_at, deleted_at) ON public.api_keys TO authenticated;

-- service_role bypasses RLS (BYPASSRLS) and is the only role that hard-deletes.
GRANT SELECT, INSERT, UPDATE, DELETE ON public.houses, public.members, public.agents,
public.environments, public.threads, public.configs, public.secrets, public.invites,
public.api_keys TO service_role;

-- Credential material: reachable only through the SECURITY DEFINER functions.
REVOKE ALL ON SCHEMA arbe_private FROM PUBLIC, anon, authenticated, service_role;
REVOKE ALL ON ALL TABLES IN SCHEMA arbe_private FROM PUBLIC, anon, authenticated, service_role;

-- The arbe functions: nobody may call one unless granted in its own file, where
-- every function is first revoked from PUBLIC (a per-schema default privilege
-- cannot take back PUBLIC's EXECUTE, so each file says it explicitly).
REVOKE ALL ON SCHEMA arbe FROM PUBLIC, anon;
GRANT USAGE ON SCHEMA arbe TO authenticated, service_role;
