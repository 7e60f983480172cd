-- Step 2 of a Supabase database's life: the image's init scripts, run by `postgres`
-- while it is still a superuser (migrate.sh runs them with `psql -U postgres`).
-- Written from supabase/postgres migrations/db/init-scripts/0000000000000{0,1,2,3}-*.sql;
-- each block names the script it reproduces. docs/supabase.md lists every fact
-- with its source and what is left out.

-- == 00000000000000-initial-schema.sql =========================================
-- Realtime's publication exists from the start, empty.
CREATE PUBLICATION supabase_realtime;

ALTER ROLE supabase_admin SUPERUSER CREATEDB CREATEROLE REPLICATION BYPASSRLS;
CREATE ROLE supabase_replication_admin LOGIN REPLICATION;
CREATE ROLE supabase_read_only_user LOGIN BYPASSRLS;
GRANT pg_read_all_data TO supabase_read_only_user;

-- Extensions live in their own schema. pgjwt is not packaged by Debian; the
-- contrib ones are created where the server has them (the bundled 18 has none).
CREATE SCHEMA IF NOT EXISTS extensions;
DO $$
DECLARE
    ext text;
BEGIN
    FOREACH ext IN ARRAY ARRAY['uuid-ossp', 'pgcrypto', 'pgjwt', 'pg_stat_statements'] LOOP
        IF EXISTS (SELECT FROM pg_available_extensions WHERE name = ext) THEN
            EXECUTE format('CREATE EXTENSION IF NOT EXISTS %I WITH SCHEMA extensions', ext);
        END IF;
    END LOOP;
END
$$;

-- The API roles start NOINHERIT (made INHERIT by a later migration).
CREATE ROLE anon NOLOGIN NOINHERIT;
CREATE ROLE authenticated NOLOGIN NOINHERIT;
CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
CREATE ROLE authenticator LOGIN NOINHERIT;
GRANT anon, authenticated, service_role, supabase_admin TO authenticator;

-- Whatever postgres (the role running this) or supabase_admin creates in public
-- is granted to every API role: why policies/00_privileges.sql starts by revoking.
GRANT USAGE ON SCHEMA public TO postgres, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO postgres, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON FUNCTIONS TO postgres, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO postgres, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public
    GRANT ALL ON TABLES TO postgres, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public
    GRANT ALL ON FUNCTIONS TO postgres, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public
    GRANT ALL ON SEQUENCES TO postgres, anon, authenticated, service_role;
GRANT USAGE ON SCHEMA extensions TO postgres, anon, authenticated, service_role;

ALTER ROLE anon SET statement_timeout = '3s';
ALTER ROLE authenticated SET statement_timeout = '8s';

-- == 00000000000001-auth-schema.sql ============================================
-- GoTrue's schema, owned by supabase_admin; its tables by supabase_auth_admin.
CREATE SCHEMA IF NOT EXISTS auth AUTHORIZATION supabase_admin;

CREATE TABLE auth.users (
    instance_id uuid,
    id uuid NOT NULL UNIQUE,
    aud varchar(255),
    role varchar(255),
    email varchar(255) UNIQUE,
    encrypted_password varchar(255),
    confirmed_at timestamptz,
    invited_at timestamptz,
    confirmation_token varchar(255),
    confirmation_sent_at timestamptz,
    recovery_token varchar(255),
    recovery_sent_at timestamptz,
    email_change_token varchar(255),
    email_change varchar(255),
    email_change_sent_at timestamptz,
    last_sign_in_at timestamptz,
    raw_app_meta_data jsonb,
    raw_user_meta_data jsonb,
    is_super_admin boolean,
    created_at timestamptz,
    updated_at timestamptz,
    CONSTRAINT users_pkey PRIMARY KEY (id)
);
CREATE INDEX users_instance_id_email_idx ON auth.users (instance_id, email);
CREATE INDEX users_instance_id_idx ON auth.users (instance_id);

CREATE TABLE auth.refresh_tokens (
    instance_id uuid,
    id bigserial PRIMARY KEY,
    token varchar(255),
    user_id varchar(255),
    revoked boolean,
    created_at timestamptz,
    updated_at timestamptz
);
CREATE TABLE auth.instances (
    id uuid PRIMARY KEY, uuid uuid, raw_base_config text, created_at timestamptz, updated_at timestamptz
);
CREATE TABLE auth.audit_log_entries (id uuid PRIMARY KEY, instance_id uuid, payload json, created_at timestamptz);
CREATE TABLE auth.schema_migrations (version varchar(255) PRIMARY KEY);

-- The first claim readers: the old per-claim settings only (GoTrue replaces them).
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE
    AS $$ SELECT nullif(current_setting('request.jwt.claim.sub', true), '')::uuid $$;
CREATE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT nullif(current_setting('request.jwt.claim.role', true), '')::text $$;
CREATE FUNCTION auth.email() RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT nullif(current_setting('request.jwt.claim.email', true), '')::text $$;

GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;

CREATE ROLE supabase_auth_admin LOGIN NOINHERIT CREATEROLE NOREPLICATION;
GRANT ALL ON SCHEMA auth TO supabase_auth_admin;
GRANT ALL ON ALL TABLES IN SCHEMA auth TO supabase_auth_admin;
GRANT ALL ON ALL SEQUENCES IN SCHEMA auth TO supabase_auth_admin;
ALTER ROLE supabase_auth_admin SET search_path = auth;
ALTER TABLE auth.users OWNER TO supabase_auth_admin;
ALTER TABLE auth.refresh_tokens OWNER TO supabase_auth_admin;
ALTER TABLE auth.audit_log_entries OWNER TO supabase_auth_admin;
ALTER TABLE auth.instances OWNER TO supabase_auth_admin;
ALTER TABLE auth.schema_migrations OWNER TO supabase_auth_admin;

-- == 00000000000002-storage-schema.sql =========================================
-- Storage's schema: postgres's default privileges there too. Tables reduced to
-- the two that reference auth.users.
CREATE SCHEMA IF NOT EXISTS storage AUTHORIZATION supabase_admin;
GRANT USAGE ON SCHEMA storage TO postgres, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA storage GRANT ALL ON TABLES TO postgres, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA storage GRANT ALL ON FUNCTIONS TO postgres, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA storage GRANT ALL ON SEQUENCES TO postgres, anon, authenticated, service_role;
CREATE TABLE storage.buckets (
    id text PRIMARY KEY, name text NOT NULL UNIQUE, owner uuid REFERENCES auth.users (id),
    created_at timestamptz DEFAULT now(), updated_at timestamptz DEFAULT now()
);
CREATE TABLE storage.objects (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(), bucket_id text REFERENCES storage.buckets (id), name text,
    owner uuid REFERENCES auth.users (id), created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now(), last_accessed_at timestamptz DEFAULT now(), metadata jsonb
);
ALTER TABLE storage.objects ENABLE ROW LEVEL SECURITY;

CREATE ROLE supabase_storage_admin LOGIN NOINHERIT CREATEROLE NOREPLICATION;
GRANT ALL ON SCHEMA storage TO supabase_storage_admin;
GRANT ALL ON ALL TABLES IN SCHEMA storage TO supabase_storage_admin;
ALTER ROLE supabase_storage_admin SET search_path = storage;
ALTER TABLE storage.objects OWNER TO supabase_storage_admin;
ALTER TABLE storage.buckets OWNER TO supabase_storage_admin;

-- == 00000000000003-post-setup.sql =============================================
ALTER ROLE supabase_admin SET search_path TO "$user", public, auth, extensions;
ALTER ROLE postgres SET search_path TO "$user", public, extensions;

-- Event triggers that fire on our DDL too, as the role running it. The bodies
-- keep each trigger's test; the grants they make when pg_cron / pg_net arrive
-- are left out (neither extension exists here), see docs/supabase.md.
CREATE FUNCTION extensions.grant_pg_cron_access() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT FROM pg_event_trigger_ddl_commands() ev JOIN pg_extension x ON x.oid = ev.objid
               WHERE x.extname = 'pg_cron') THEN
        RAISE NOTICE 'pg_cron arrived: Supabase would grant its schema to postgres here';
    END IF;
END
$$;
CREATE EVENT TRIGGER issue_pg_cron_access ON ddl_command_end WHEN TAG IN ('CREATE EXTENSION')
    EXECUTE FUNCTION extensions.grant_pg_cron_access();

CREATE FUNCTION extensions.grant_pg_net_access() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT FROM pg_event_trigger_ddl_commands() ev JOIN pg_extension x ON x.oid = ev.objid
               WHERE x.extname = 'pg_net') THEN
        RAISE NOTICE 'pg_net arrived: Supabase would create supabase_functions_admin and grant net here';
    END IF;
END
$$;
CREATE EVENT TRIGGER issue_pg_net_access ON ddl_command_end WHEN TAG IN ('CREATE EXTENSION')
    EXECUTE FUNCTION extensions.grant_pg_net_access();

-- The dashboard's role.
CREATE ROLE dashboard_user NOSUPERUSER CREATEDB CREATEROLE REPLICATION;
GRANT ALL ON SCHEMA auth, extensions, storage TO dashboard_user;
GRANT ALL ON ALL TABLES IN SCHEMA auth, extensions TO dashboard_user;
GRANT ALL ON ALL SEQUENCES IN SCHEMA auth, storage, extensions TO dashboard_user;
GRANT ALL ON ALL ROUTINES IN SCHEMA auth, storage, extensions TO dashboard_user;
