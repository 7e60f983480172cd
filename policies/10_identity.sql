-- Who is calling: the identity every policy and function is written against.

-- Who the caller is, decided in one place: arbe.caller_claims() reads the token
-- and names a user, an API key, or nobody; everything else derives from it.
--
-- Why not auth.uid() directly: Supabase's auth.uid() casts the sub claim to uuid
-- and the claims to jsonb, so a malformed token makes every statement fail with
-- a cast error instead of simply seeing nothing. Missing, empty, malformed or
-- non-uuid sub means *nobody*: no rows, no writes. This reads the same setting
-- Supabase's does and yields nobody on anything off, and also when the token's
-- role claim is not 'authenticated' (a service_role claim inside an
-- authenticated database session is a confused or forged token, not a reason
-- to trust the caller more).
--
-- An agent acts with an API key, never a user's JWT: the API server resolves
-- the key (arbe.resolve_api_key) and sets claims {"role":"authenticated",
-- "arbe_api_key_id":"<api_keys.id>"}, with no sub (a key is not a user). Claims
-- carrying both a sub and a key id are nobody: a token cannot be a user and an
-- agent at once, and picking either would let one half widen the other.
-- user_id and api_key_id: at most one is set; both NULL is nobody.
CREATE OR REPLACE FUNCTION arbe.caller_claims(OUT user_id uuid, OUT api_key_id uuid)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    claims jsonb;
    sub text;
    key_id text;
    uuid_shape constant text := '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
BEGIN
    BEGIN
        claims := nullif(current_setting('request.jwt.claims', true), '')::jsonb;
    EXCEPTION WHEN others THEN
        RETURN;  -- malformed JSON: nobody
    END;
    IF claims IS NULL OR jsonb_typeof(claims) <> 'object'
       OR (claims ->> 'role') IS DISTINCT FROM 'authenticated' THEN
        RETURN;
    END IF;
    -- Present at all (even as JSON null or garbage) counts: both present is nobody.
    IF (claims -> 'sub') IS NOT NULL AND (claims -> 'arbe_api_key_id') IS NOT NULL THEN
        RETURN;
    END IF;
    sub := claims ->> 'sub';
    key_id := claims ->> 'arbe_api_key_id';
    IF sub ~* uuid_shape THEN
        user_id := sub::uuid;
    ELSIF key_id ~* uuid_shape THEN
        api_key_id := key_id::uuid;
    END IF;
END
$$;

-- arbe.caller_id(): the caller's user id, or NULL (a key, or nobody).
-- SQL with no SET clause, so PostgreSQL inlines it into the statements that call
-- it: one function call fewer on every RLS-gated statement. It names no operator
-- and only schema-qualified objects, so the caller's search_path cannot reach it.
CREATE OR REPLACE FUNCTION arbe.caller_id() RETURNS uuid
LANGUAGE sql STABLE
AS $$
    SELECT (arbe.caller_claims()).user_id
$$;

-- arbe.live_api_key(api_key_id): the key's (house, agent) while it may act: not
-- revoked, expired or soft-deleted, its house live, its agent (if any) live; no
-- row otherwise. The one statement of that rule: arbe.resolve_api_key (the
-- server, given the key's text) and arbe.caller_key (every statement a key runs)
-- both ask it, so a key resolves exactly when its claims would be honoured.
-- One primary-key lookup: the key's row carries copies of its house's and
-- agent's deleted_at (house_deleted_at, agent_deleted_at; NULL for a house-wide
-- key's agent), kept by triggers/26_key_liveness.sql. A set-returning SQL
-- function with no SET clause and not SECURITY DEFINER: PostgreSQL inlines it as
-- a sub-select into its two callers, both SECURITY DEFINER with search_path
-- pg_catalog, pg_temp, so it reads with their rights and resolves names under
-- their search_path. Not executable by callers (it answers for any key id).
-- Expiry is judged at the statement's start, not the transaction's (now()): like
-- a revocation, an expiry takes effect on the next statement of a transaction
-- that is already open. statement_timestamp(), not clock_timestamp(): one
-- statement sees one answer, however long it runs, and the function stays STABLE.
CREATE OR REPLACE FUNCTION arbe.live_api_key(api_key_id uuid)
RETURNS TABLE (house_id uuid, agent_id uuid)
LANGUAGE sql STABLE
AS $$
    SELECT k.house_id, k.agent_id
    FROM public.api_keys AS k
    WHERE k.id = $1
      AND k.deleted_at IS NULL
      AND k.revoked_at IS NULL
      AND (k.expires_at IS NULL OR k.expires_at > pg_catalog.statement_timestamp())
      AND k.house_deleted_at IS NULL
      AND k.agent_deleted_at IS NULL
$$;

-- The key the caller acts as, re-checked on every call: the claim names a key,
-- not an agent, so a key revoked (or its agent or house deleted) after the
-- claims were minted is nobody from the next statement on.
-- arbe.caller_key(): (house_id, agent_id) of the caller's live key, NULLs
-- otherwise. SECURITY DEFINER (api_keys is closed to keys); it answers only for
-- the key the caller's own claims name.
CREATE OR REPLACE FUNCTION arbe.caller_key(OUT house_id uuid, OUT agent_id uuid)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    SELECT k.house_id, k.agent_id INTO house_id, agent_id
    FROM arbe.live_api_key((arbe.caller_claims()).api_key_id) AS k;
END
$$;

-- arbe.acting_key(): what policies read, once per statement in an uncorrelated
-- sub-select; where a policy needs house and agent together it takes both at once,
--     (house_id, agent_id) = (SELECT k.house_id, k.agent_id FROM arbe.acting_key() AS k)
-- (one InitPlan with two outputs, which the (house_id, agent_id) index serves).
-- For a user (claims naming no key) it returns at once: the definer lookup never
-- runs. PL/pgSQL, not an inlined SQL function: inlining saved a call but made
-- the planner parse and plan the body into every RLS-gated statement, users'
-- included (bench/rls_overhead.py's queries at 1M threads, both forms in three
-- alternating rounds: users' shape ratio (b) 1.23-1.39 inlined, 1.18-1.20 now;
-- the agent shape (i) 1.11-1.21 inlined, 1.04-1.06 now).
CREATE OR REPLACE FUNCTION arbe.acting_key()
RETURNS TABLE (house_id uuid, agent_id uuid)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF (arbe.caller_claims()).api_key_id IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT k.house_id, k.agent_id FROM arbe.caller_key() AS k;
END
$$;

-- model §4b: arbe.caller_agent_id() is the key's agent (NULL for a house-wide key,
-- a user, or nobody); arbe.caller_key_house_id() the key's house (NULL unless
-- the caller is a live key).
CREATE OR REPLACE FUNCTION arbe.caller_agent_id() RETURNS uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN (arbe.caller_key()).agent_id;
END
$$;

CREATE OR REPLACE FUNCTION arbe.caller_key_house_id() RETURNS uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN (arbe.caller_key()).house_id;
END
$$;

-- arbe.email_key(email): the form two addresses are compared in: trimmed of
-- spaces and lower-cased on ASCII letters only. Only ASCII, because lower()
-- under a Unicode-aware collation (Supabase's databases have one) folds other
-- characters too: the Kelvin sign U+212A becomes `k`, so a JWT email
-- `\u212Aate@corp.com` would match an invite for `kate@corp.com`. The "C"
-- collation makes lower() touch A-Z alone, whatever the database's locale.
-- No SET clause and no table: PostgreSQL inlines it.
CREATE OR REPLACE FUNCTION arbe.email_key(email text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.lower(pg_catalog.btrim(email) COLLATE pg_catalog."C")
$$;

-- arbe.caller_email(): the JWT email as arbe.email_key, when the caller is somebody.
CREATE OR REPLACE FUNCTION arbe.caller_email() RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF arbe.caller_id() IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN nullif(arbe.email_key(current_setting('request.jwt.claims', true)::jsonb ->> 'email'), '');
END
$$;

-- arbe.caller_bypasses_rls(): true for roles RLS does not apply to (superusers,
-- BYPASSRLS roles such as service_role and Supabase's postgres). Guard triggers
-- use it to hold RLS-subject callers to the matrix while trusted server code
-- (and the SECURITY DEFINER credential functions, whose statements run as their
-- owner) is not second-guessed. SECURITY INVOKER on purpose: current_user must
-- be the caller.
-- PL/pgSQL: every guarded write calls it, and a SQL function with a SET clause
-- re-plans its body on every call before PostgreSQL 18 (4.5× slower on 15,
-- bench/function_language.py).
CREATE OR REPLACE FUNCTION arbe.caller_bypasses_rls() RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN coalesce((SELECT r.rolsuper OR r.rolbypassrls FROM pg_catalog.pg_roles r
                     WHERE r.rolname = current_user), false);
END
$$;

REVOKE ALL ON FUNCTION arbe.caller_claims(), arbe.caller_id(), arbe.caller_email(), arbe.caller_bypasses_rls(),
arbe.email_key(text), arbe.live_api_key(uuid), arbe.caller_key(), arbe.acting_key(), arbe.caller_agent_id(),
arbe.caller_key_house_id() FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION arbe.caller_claims(), arbe.caller_id(), arbe.caller_email(), arbe.caller_bypasses_rls(),
arbe.email_key(text)
TO authenticated, service_role;
-- The key identity functions: authenticated only (policies run as the caller).
-- live_api_key answers about any key id, so only its owner-run callers reach it.
-- caller_key and acting_key too: policies call acting_key as the caller, and it calls caller_key.
GRANT EXECUTE ON FUNCTION arbe.caller_key(), arbe.acting_key(), arbe.caller_agent_id(),
arbe.caller_key_house_id() TO authenticated;
