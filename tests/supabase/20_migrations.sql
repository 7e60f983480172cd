-- Step 3: the image's migrations, run by supabase_admin (migrate.sh: "run migrations
-- as super user - postgres user demoted"). Written from supabase/postgres
-- migrations/db/migrations/*.sql; each block names the migration(s) it stands for,
-- in their order. What a migration does that cannot happen here is named and
-- skipped (docs/supabase.md, "what it cannot reproduce").

-- == 10000000000000_demote-postgres ==============================================
-- The project database's grant (GRANT ALL ON DATABASE) is made per database by
-- tests/supabase_fixture.py: database privileges are not copied from a template.
GRANT ALL ON SCHEMA auth, extensions, storage TO postgres;
GRANT ALL ON ALL TABLES IN SCHEMA auth, storage, extensions TO postgres;
GRANT ALL ON ALL SEQUENCES IN SCHEMA auth, storage, extensions TO postgres;
GRANT ALL ON ALL ROUTINES IN SCHEMA auth, storage, extensions TO postgres;
ALTER ROLE postgres NOSUPERUSER CREATEDB CREATEROLE LOGIN REPLICATION BYPASSRLS;

-- == 20211115181400_update-auth-permissions ======================================
GRANT ALL ON ALL TABLES IN SCHEMA auth TO postgres, dashboard_user;
GRANT ALL ON ALL SEQUENCES IN SCHEMA auth TO postgres, dashboard_user;
GRANT ALL ON ALL ROUTINES IN SCHEMA auth TO postgres, dashboard_user;
-- Whatever GoTrue creates in auth later is granted to postgres and the dashboard.
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_auth_admin IN SCHEMA auth GRANT ALL ON TABLES TO postgres, dashboard_user;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_auth_admin IN SCHEMA auth GRANT ALL ON SEQUENCES TO postgres, dashboard_user;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_auth_admin IN SCHEMA auth GRANT ALL ON ROUTINES TO postgres, dashboard_user;

-- == 20211118015519 / 20211122051245 / 20211130151719: realtime ===================
CREATE SCHEMA IF NOT EXISTS realtime;
GRANT USAGE ON SCHEMA realtime TO postgres;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA realtime GRANT ALL ON TABLES TO postgres, dashboard_user;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA realtime GRANT ALL ON SEQUENCES TO postgres, dashboard_user;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA realtime GRANT ALL ON ROUTINES TO postgres, dashboard_user;

-- == 20211124212715_update-auth-owner ===========================================
ALTER FUNCTION auth.uid() OWNER TO supabase_auth_admin;
ALTER FUNCTION auth.role() OWNER TO supabase_auth_admin;
ALTER FUNCTION auth.email() OWNER TO supabase_auth_admin;

-- == 20220118070449 / 20220224211803: authenticator preloads safeupdate (and supautils)
-- Skipped: neither library is packaged by Debian, and a missing preload library
-- would make every authenticator login fail.

-- == 20220126121436 / 20220321174452: PostgREST's schema-cache watch ==============
-- Every DDL statement of ours (CREATE TABLE, FUNCTION, POLICY's ALTER TABLE, ...) and
-- every DROP fires these, inside our transaction, as our role.
CREATE FUNCTION extensions.pgrst_ddl_watch() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT FROM pg_event_trigger_ddl_commands() c
        WHERE c.schema_name IS DISTINCT FROM 'pg_temp'
          AND c.command_tag IN ('CREATE SCHEMA', 'ALTER SCHEMA', 'CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO',
                                'ALTER TABLE', 'CREATE FOREIGN TABLE', 'ALTER FOREIGN TABLE', 'CREATE VIEW',
                                'ALTER VIEW', 'CREATE MATERIALIZED VIEW', 'ALTER MATERIALIZED VIEW',
                                'CREATE FUNCTION', 'ALTER FUNCTION', 'CREATE TRIGGER', 'CREATE TYPE',
                                'ALTER TYPE', 'CREATE RULE', 'COMMENT')) THEN
        NOTIFY pgrst, 'reload schema';
    END IF;
END
$$;
CREATE FUNCTION extensions.pgrst_drop_watch() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT FROM pg_event_trigger_dropped_objects() o
        WHERE NOT o.is_temporary
          AND o.object_type IN ('schema', 'table', 'foreign table', 'view', 'materialized view', 'function',
                                'trigger', 'type', 'rule')) THEN
        NOTIFY pgrst, 'reload schema';
    END IF;
END
$$;
CREATE EVENT TRIGGER pgrst_ddl_watch ON ddl_command_end EXECUTE FUNCTION extensions.pgrst_ddl_watch();
CREATE EVENT TRIGGER pgrst_drop_watch ON sql_drop EXECUTE FUNCTION extensions.pgrst_drop_watch();

-- == 20220317095840 and later pg_graphql migrations: graphql_public ===============
-- pg_graphql is not packaged by Debian: the placeholder entry point stays, and
-- the two event triggers watch for the extension that never comes.
CREATE SCHEMA IF NOT EXISTS graphql_public;
CREATE FUNCTION graphql_public.graphql("operationName" text DEFAULT NULL, query text DEFAULT NULL,
                                       variables jsonb DEFAULT NULL, extensions jsonb DEFAULT NULL)
    RETURNS jsonb LANGUAGE sql
    AS $$ SELECT jsonb_build_object('errors', jsonb_build_array(
              jsonb_build_object('message', 'pg_graphql extension is not enabled.'))) $$;
GRANT USAGE ON SCHEMA graphql_public TO postgres, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA graphql_public GRANT ALL ON TABLES TO postgres, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA graphql_public GRANT ALL ON FUNCTIONS TO postgres, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA graphql_public GRANT ALL ON SEQUENCES TO postgres, anon, authenticated, service_role;
-- Fires on every CREATE FUNCTION (ours included) and looks for graphql.resolve.
CREATE FUNCTION extensions.grant_pg_graphql_access() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT FROM pg_event_trigger_ddl_commands() ev JOIN pg_proc p ON p.oid = ev.objid
               WHERE p.proname = 'resolve' AND p.pronamespace::regnamespace::text = 'graphql') THEN
        RAISE NOTICE 'pg_graphql arrived: Supabase would grant graphql to the API roles here';
    END IF;
END
$$;
CREATE EVENT TRIGGER issue_pg_graphql_access ON ddl_command_end WHEN TAG IN ('CREATE FUNCTION')
    EXECUTE FUNCTION extensions.grant_pg_graphql_access();
CREATE FUNCTION extensions.set_graphql_placeholder() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT FROM pg_event_trigger_dropped_objects() ev WHERE ev.schema_name = 'graphql_public') THEN
        RAISE NOTICE 'pg_graphql dropped: Supabase would restore the placeholder here';
    END IF;
END
$$;
CREATE EVENT TRIGGER issue_graphql_placeholder ON sql_drop WHEN TAG IN ('DROP EXTENSION')
    EXECUTE FUNCTION extensions.set_graphql_placeholder();

-- == 20220322085208_gotrue-session-limit =========================================
ALTER ROLE supabase_auth_admin SET idle_in_transaction_session_timeout TO 60000;

-- == 20220609081115: postgres manages auth's triggers and storage's policies =====
GRANT supabase_auth_admin, supabase_storage_admin TO postgres;

-- == 20221028101028 / 20231130133139: authenticator's timeouts; 20221103090837 ====
ALTER ROLE authenticator SET statement_timeout = '8s';
ALTER ROLE authenticator SET lock_timeout = '8s';
REVOKE supabase_admin FROM authenticator;

-- == 20221207154255_create_pgsodium_and_vault ===================================
-- Skipped: pgsodium and supabase_vault are not packaged by Debian (25_vault_stand_in.sql
-- stands in for Vault's interface).

-- == 20230201083204_grant_auth_roles_to_postgres ================================
GRANT anon, authenticated, service_role TO postgres;

-- == 20230224042246_grant_extensions_perms_for_postgres =========================
GRANT ALL ON ALL TABLES IN SCHEMA extensions TO postgres WITH GRANT OPTION;
GRANT ALL ON ALL ROUTINES IN SCHEMA extensions TO postgres WITH GRANT OPTION;
GRANT ALL ON ALL SEQUENCES IN SCHEMA extensions TO postgres WITH GRANT OPTION;
ALTER DEFAULT PRIVILEGES IN SCHEMA extensions GRANT ALL ON TABLES TO postgres WITH GRANT OPTION;
ALTER DEFAULT PRIVILEGES IN SCHEMA extensions GRANT ALL ON ROUTINES TO postgres WITH GRANT OPTION;
ALTER DEFAULT PRIVILEGES IN SCHEMA extensions GRANT ALL ON SEQUENCES TO postgres WITH GRANT OPTION;

-- == 20230306081037_grant_pg_monitor_to_postgres ================================
GRANT pg_monitor TO postgres;

-- == 20230327032006 / 20231013070755: storage admin =============================
GRANT authenticator TO supabase_storage_admin;

-- == 20230529180330_alter_api_roles_for_inherit =================================
-- (its GRANT pgsodium_keyholder TO service_role is skipped with pgsodium)
ALTER ROLE authenticated INHERIT;
ALTER ROLE anon INHERIT;
ALTER ROLE service_role INHERIT;

-- == 20240124080435_alter_lo_export_lo_import_owner =============================
-- Nothing to do: here supabase_admin is the bootstrap superuser and owns them already.

-- == 20240606060239_grant_predefined_roles_to_postgres ==========================
GRANT pg_read_all_data, pg_signal_backend TO postgres;
