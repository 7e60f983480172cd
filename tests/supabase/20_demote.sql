-- Run by supabase_admin after 10_platform.sql: the `postgres` role a Supabase
-- user migrates with is no superuser (10000000000000_demote-postgres.sql and the
-- later lock-downs of the auth schema).

-- It reads and references auth's tables and calls its functions ...
GRANT USAGE ON SCHEMA auth TO postgres;
GRANT ALL ON ALL TABLES IN SCHEMA auth TO postgres;
GRANT ALL ON ALL ROUTINES IN SCHEMA auth TO postgres;
-- ... but may not create anything there (20250421084701_revoke_admin_roles_from_postgres.sql).
REVOKE CREATE ON SCHEMA auth FROM postgres;

-- It creates in public (PostgreSQL 15 no longer lets PUBLIC do that).
GRANT USAGE, CREATE ON SCHEMA public TO postgres;

-- It may act as the API roles (the SQL editor's "role" switch, and our tests'
-- SET LOCAL ROLE); on 16+ with ADMIN OPTION
-- (20250605172253_grant_with_admin_to_postgres_16_and_above.sql).
GRANT anon, authenticated, service_role TO postgres;
DO $$
BEGIN
    IF current_setting('server_version_num')::int >= 160000 THEN
        GRANT anon, authenticated, service_role TO postgres WITH ADMIN OPTION;
    END IF;
END
$$;

ALTER ROLE postgres NOSUPERUSER CREATEDB CREATEROLE LOGIN REPLICATION BYPASSRLS;
