-- Who is calling: the identity every policy and function is written against.

-- arbe.caller_id(): the caller's user id, or NULL for "nobody".
--
-- Why not auth.uid() directly: Supabase's auth.uid() casts the sub claim to uuid
-- and the claims to jsonb, so a malformed token makes every statement fail with
-- a cast error instead of simply seeing nothing. SPEC §3 wants missing, empty,
-- malformed or non-uuid sub to mean *nobody*: no rows, no writes. This reads
-- the same setting Supabase's does and returns NULL on anything off, and also
-- when the token's role claim is not 'authenticated' (a service_role claim
-- inside an authenticated database session is a confused or forged token, not
-- a reason to trust the caller more).
CREATE OR REPLACE FUNCTION arbe.caller_id() RETURNS uuid
LANGUAGE plpgsql STABLE
SET search_path = ''
AS $$
DECLARE
    claims jsonb;
    sub text;
BEGIN
    BEGIN
        claims := nullif(current_setting('request.jwt.claims', true), '')::jsonb;
    EXCEPTION WHEN others THEN
        RETURN NULL;  -- malformed JSON: nobody
    END;
    IF claims IS NULL OR jsonb_typeof(claims) <> 'object'
       OR (claims ->> 'role') IS DISTINCT FROM 'authenticated' THEN
        RETURN NULL;
    END IF;
    sub := claims ->> 'sub';
    IF sub IS NULL OR sub !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        RETURN NULL;
    END IF;
    RETURN sub::uuid;
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
SET search_path = ''
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
SET search_path = ''
AS $$
BEGIN
    RETURN coalesce((SELECT r.rolsuper OR r.rolbypassrls FROM pg_catalog.pg_roles r
                     WHERE r.rolname = current_user), false);
END
$$;

REVOKE ALL ON FUNCTION arbe.caller_id(), arbe.caller_email(), arbe.caller_bypasses_rls(), arbe.email_key(text)
FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION arbe.caller_id(), arbe.caller_email(), arbe.caller_bypasses_rls(), arbe.email_key(text)
TO authenticated, service_role;
