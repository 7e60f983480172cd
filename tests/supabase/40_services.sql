-- Step 5: the other platform services' own roles, run by supabase_admin.
-- PgBouncer's auth lookup: supabase/postgres ansible/files/pgbouncer_config/pgbouncer_auth_schema.sql.
CREATE ROLE pgbouncer LOGIN;
REVOKE ALL ON SCHEMA public FROM pgbouncer;
CREATE SCHEMA pgbouncer AUTHORIZATION pgbouncer;
CREATE FUNCTION pgbouncer.get_auth(p_usename text) RETURNS TABLE (username text, password text)
    LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    RETURN QUERY SELECT usename::text, passwd::text FROM pg_catalog.pg_shadow WHERE usename = p_usename;
END
$$;
REVOKE ALL ON FUNCTION pgbouncer.get_auth(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgbouncer.get_auth(text) TO pgbouncer;

-- Realtime's admin (supabase/realtime lib/realtime/tenants/repo/migrations/
-- 20240401105812_create_realtime_admin_and_move_ownership.ex and
-- 20260606120000_setup_supabase_realtime_admin.ex): it may become any API role, and
-- postgres is its member where supautils does not grant policies instead (here).
CREATE ROLE supabase_realtime_admin NOINHERIT CREATEROLE LOGIN REPLICATION;
ALTER ROLE supabase_realtime_admin SET search_path = public, extensions, realtime;
GRANT anon, authenticated, service_role TO supabase_realtime_admin;
GRANT CREATE, USAGE ON SCHEMA public TO supabase_realtime_admin;
GRANT USAGE ON SCHEMA extensions, auth TO supabase_realtime_admin;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA auth TO supabase_realtime_admin;
GRANT USAGE ON SCHEMA realtime TO postgres, anon, authenticated, service_role;
GRANT ALL ON SCHEMA realtime TO supabase_realtime_admin WITH GRANT OPTION;
GRANT supabase_realtime_admin TO postgres;
REVOKE CREATE ON SCHEMA realtime FROM postgres;
