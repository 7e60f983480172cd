-- 0001 auth compatibility (SPEC §3).
--
-- On Supabase every object below already exists and nothing here runs: each one
-- is created only where missing, and never replaced, because Supabase's own
-- definitions are the ones its API gateway (PostgREST) relies on. On plain
-- PostgreSQL this gives the same names with the same behaviour, so the same
-- migrations, policies and tests run on both.
--
-- Objects this step creates carry the comment 'arbedb auth compatibility' so
-- the downgrade removes exactly those and never a Supabase original.

-- Roles are cluster-wide: several databases (tests, branches) share them, and a
-- concurrent apply in another database may create them first, hence the
-- duplicate_object handler.
DO $compat$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'anon') THEN
        BEGIN
            CREATE ROLE anon NOLOGIN NOINHERIT;
            COMMENT ON ROLE anon IS 'arbedb auth compatibility';
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated') THEN
        BEGIN
            CREATE ROLE authenticated NOLOGIN NOINHERIT;
            COMMENT ON ROLE authenticated IS 'arbedb auth compatibility';
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'service_role') THEN
        BEGIN
            CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
            COMMENT ON ROLE service_role IS 'arbedb auth compatibility';
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END IF;
END
$compat$;

DO $compat$
BEGIN
    IF to_regnamespace('auth') IS NULL THEN
        CREATE SCHEMA auth;
        COMMENT ON SCHEMA auth IS 'arbedb auth compatibility';
        GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
    END IF;

    IF to_regclass('auth.users') IS NULL THEN
        -- Supabase's auth.users has many more columns; these two are all this schema uses.
        CREATE TABLE auth.users (
            id uuid PRIMARY KEY,
            email text
        );
        COMMENT ON TABLE auth.users IS 'arbedb auth compatibility';
    END IF;

    -- The three claim readers, written as Supabase writes them: the newer
    -- request.jwt.claims JSON setting, with the older per-claim settings first.
    IF to_regprocedure('auth.uid()') IS NULL THEN
        CREATE FUNCTION auth.uid() RETURNS uuid
        LANGUAGE sql STABLE
        AS $fn$
            SELECT coalesce(
                nullif(current_setting('request.jwt.claim.sub', true), ''),
                (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
            )::uuid
        $fn$;
        COMMENT ON FUNCTION auth.uid() IS 'arbedb auth compatibility';
    END IF;

    IF to_regprocedure('auth.role()') IS NULL THEN
        CREATE FUNCTION auth.role() RETURNS text
        LANGUAGE sql STABLE
        AS $fn$
            SELECT coalesce(
                nullif(current_setting('request.jwt.claim.role', true), ''),
                (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
            )::text
        $fn$;
        COMMENT ON FUNCTION auth.role() IS 'arbedb auth compatibility';
    END IF;

    IF to_regprocedure('auth.jwt()') IS NULL THEN
        CREATE FUNCTION auth.jwt() RETURNS jsonb
        LANGUAGE sql STABLE
        AS $fn$
            SELECT coalesce(
                nullif(current_setting('request.jwt.claim', true), ''),
                nullif(current_setting('request.jwt.claims', true), '')
            )::jsonb
        $fn$;
        COMMENT ON FUNCTION auth.jwt() IS 'arbedb auth compatibility';
    END IF;
END
$compat$;
