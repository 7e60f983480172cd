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
    uuid_shape constant text := '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
BEGIN
    -- The EXCEPTION block is a subtransaction, but a cheap one here (it writes
    -- nothing, so it never takes an xid): 1-3 µs of the call, against 5-13 µs
    -- for the parse itself (docs/performance.md, "Identity"). PostgreSQL 15 has
    -- no way to ask whether text is JSON without raising.
    BEGIN
        claims := nullif(current_setting('request.jwt.claims', true), '')::jsonb;
    EXCEPTION WHEN others THEN
        RETURN;  -- malformed JSON: nobody
    END;
    -- Few, larger expressions: PL/pgSQL prepares each expression of a function
    -- again in every transaction, and a caller's statement is often its own.
    IF jsonb_typeof(claims) IS DISTINCT FROM 'object'
       OR (claims ->> 'role') IS DISTINCT FROM 'authenticated'
       -- Present at all (even as JSON null or garbage) counts: both present is nobody.
       OR ((claims -> 'sub') IS NOT NULL AND (claims -> 'arbe_api_key_id') IS NOT NULL) THEN
        RETURN;
    END IF;
    user_id := CASE WHEN (claims ->> 'sub') ~* uuid_shape THEN (claims ->> 'sub')::uuid END;
    api_key_id := CASE WHEN user_id IS NULL AND (claims ->> 'arbe_api_key_id') ~* uuid_shape
                       THEN (claims ->> 'arbe_api_key_id')::uuid END;
END
$$;

-- arbe.claims_may_name(key): false only when the claims cannot hold the
-- top-level key `key`, judged from the setting's text without parsing it: the
-- text contains neither `"key"` nor a backslash. A JSON object key is a quoted
-- string, and a string with no escape sequence is its characters verbatim, so
-- without a backslash the key appears in the text exactly as `"key"`
-- ("arbe\u005fapi_key_id" is arbe_api_key_id: a backslash sends the caller
-- down the full parse). It only ever says "cannot": the answer "may" is then
-- settled by arbe.caller_claims. Nothing is cached: it reads the setting as it
-- is at this call, so a claim set mid-transaction is seen by the next statement.
-- SQL with no SET clause and every name schema-qualified, operators included:
-- inlined into its callers, and the caller's search_path cannot reach it.
CREATE OR REPLACE FUNCTION arbe.claims_may_name(key text) RETURNS boolean
LANGUAGE sql STABLE
AS $$
    SELECT pg_catalog.strpos(coalesce(pg_catalog.current_setting('request.jwt.claims', true), ''),
                             '"' OPERATOR(pg_catalog.||) key OPERATOR(pg_catalog.||) '"') OPERATOR(pg_catalog.<>) 0
        OR pg_catalog.strpos(coalesce(pg_catalog.current_setting('request.jwt.claims', true), ''),
                             E'\\') OPERATOR(pg_catalog.<>) 0
$$;

-- arbe.caller_id(): the caller's user id, or NULL (a key, or nobody).
-- SQL with no SET clause, so PostgreSQL inlines it into the statements that call
-- it: one function call fewer on every RLS-gated statement. It names only
-- schema-qualified objects and operators, so the caller's search_path cannot
-- reach it. Claims that cannot name a sub (a key's) skip the parse.
CREATE OR REPLACE FUNCTION arbe.caller_id() RETURNS uuid
LANGUAGE sql STABLE
AS $$
    SELECT CASE WHEN arbe.claims_may_name('sub') THEN (arbe.caller_claims()).user_id END
$$;

-- arbe.caller_api_key_id(): the key id the caller's claims name, or NULL (a
-- user, or nobody); not whether the key is live (arbe.acting_key says that).
-- For triggers that only ask "is this a key's statement?": a user's claims,
-- which cannot name a key, are not parsed. Inlined as caller_id is.
CREATE OR REPLACE FUNCTION arbe.caller_api_key_id() RETURNS uuid
LANGUAGE sql STABLE
AS $$
    SELECT CASE WHEN arbe.claims_may_name('arbe_api_key_id') THEN (arbe.caller_claims()).api_key_id END
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
    -- A user's claims cannot name a key: no parse, no lookup. Otherwise
    -- caller_key parses them (once) and answers NULLs for no key.
    IF NOT arbe.claims_may_name('arbe_api_key_id') THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT k.house_id, k.agent_id FROM arbe.caller_key() AS k WHERE k.house_id IS NOT NULL;
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
-- It asks PostgreSQL's own answer, row_security_active, for a table of the
-- schema: false for superusers and BYPASSRLS roles, true for everyone else
-- (the tables FORCE row level security, so their owner too unless it bypasses).
-- What it answers is whether RLS applies to current_user, so nothing a caller
-- SETs (but a role it may SET ROLE to) changes it, and nothing is kept between
-- calls. No pg_roles lookup (a view over pg_authid, 12-15 µs a call): SQL with
-- no SET clause, inlined into the trigger bodies that call it.
CREATE OR REPLACE FUNCTION arbe.caller_bypasses_rls() RETURNS boolean
LANGUAGE sql STABLE
AS $$
    SELECT NOT pg_catalog.row_security_active('public.houses'::pg_catalog.regclass)
$$;

REVOKE ALL ON FUNCTION arbe.caller_claims(), arbe.claims_may_name(text), arbe.caller_id(), arbe.caller_api_key_id(),
arbe.caller_email(), arbe.caller_bypasses_rls(), arbe.email_key(text), arbe.live_api_key(uuid), arbe.caller_key(),
arbe.acting_key(), arbe.caller_agent_id(), arbe.caller_key_house_id() FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION arbe.caller_claims(), arbe.claims_may_name(text), arbe.caller_id(), arbe.caller_api_key_id(),
arbe.caller_email(), arbe.caller_bypasses_rls(), arbe.email_key(text)
TO authenticated, service_role;
-- The key identity functions: authenticated only (policies run as the caller).
-- live_api_key answers about any key id, so only its owner-run callers reach it.
-- caller_key and acting_key too: policies call acting_key as the caller, and it calls caller_key.
GRANT EXECUTE ON FUNCTION arbe.caller_key(), arbe.acting_key(), arbe.caller_agent_id(),
arbe.caller_key_house_id() TO authenticated;
