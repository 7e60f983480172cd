-- The Data API path to the credential functions (docs/supabase.md, "Calling the credential functions").
--
-- Supabase's Data API (PostgREST, /rest/v1/rpc/<name>) only reaches functions in
-- its exposed schemas, by default `public` and `graphql_public`; `arbe` is not
-- one, and exposing it would publish every helper in it (is_house_member,
-- resolve_api_key, read_secret, ...) to the API's schema cache. So `public` gets
-- one thin wrapper per function a signed-in user calls, with the same name,
-- argument names (the JSON keys of the RPC body) and result:
--   POST /rest/v1/rpc/create_invite  {"house_id": "…", "email": "…", "role": "member"}
--
-- Each is marked with a comment: revision 0002's downgrade drops every function so
-- marked when it drops arbe (their bodies call into it).
--
-- The wrappers are SECURITY INVOKER: they add no privilege. The caller needs
-- EXECUTE on the wrapper *and* on the arbe function behind it, and every rule
-- (admin+, email match, one use, a key never calls these) stays in arbe's
-- SECURITY DEFINER function. `arbedb verify` (API00x) checks that each wrapper
-- exists, matches its arbe function, and is executable by authenticated alone.

CREATE OR REPLACE FUNCTION public.create_invite(house_id uuid, email text, role text) RETURNS text
LANGUAGE sql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT arbe.create_invite(create_invite.house_id, create_invite.email, create_invite.role) $$;

CREATE OR REPLACE FUNCTION public.lookup_invite(token text)
RETURNS TABLE (house_id uuid, house_name text, role text, expires_at timestamptz)
LANGUAGE sql STABLE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM arbe.lookup_invite(lookup_invite.token) $$;

CREATE OR REPLACE FUNCTION public.accept_invite(token text) RETURNS uuid
LANGUAGE sql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT arbe.accept_invite(accept_invite.token) $$;

CREATE OR REPLACE FUNCTION public.create_api_key(house_id uuid, agent_id uuid, name text) RETURNS text
LANGUAGE sql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT arbe.create_api_key(create_api_key.house_id, create_api_key.agent_id, create_api_key.name) $$;

CREATE OR REPLACE FUNCTION public.set_secret(secret_id uuid, value text) RETURNS void
LANGUAGE sql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT arbe.set_secret(set_secret.secret_id, set_secret.value) $$;

COMMENT ON FUNCTION public.create_invite(uuid, text, text) IS 'arbedb: Data API wrapper of arbe.create_invite';
COMMENT ON FUNCTION public.lookup_invite(text) IS 'arbedb: Data API wrapper of arbe.lookup_invite';
COMMENT ON FUNCTION public.accept_invite(text) IS 'arbedb: Data API wrapper of arbe.accept_invite';
COMMENT ON FUNCTION public.create_api_key(uuid, uuid, text) IS 'arbedb: Data API wrapper of arbe.create_api_key';
COMMENT ON FUNCTION public.set_secret(uuid, text) IS 'arbedb: Data API wrapper of arbe.set_secret';

-- Supabase's default privileges gave anon, authenticated and service_role ALL on each
-- new function in public (and PostgreSQL gives PUBLIC EXECUTE): start from nothing.
REVOKE ALL ON FUNCTION public.create_invite(uuid, text, text), public.lookup_invite(text),
public.accept_invite(text), public.create_api_key(uuid, uuid, text), public.set_secret(uuid, text)
FROM PUBLIC, anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION public.create_invite(uuid, text, text), public.lookup_invite(text),
public.accept_invite(text), public.create_api_key(uuid, uuid, text), public.set_secret(uuid, text)
TO authenticated;
