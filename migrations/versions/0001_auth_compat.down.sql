-- 0001 downgrade: remove only what 0001 created (marked by its comment), never a
-- Supabase original. Roles stay: they are cluster-wide and other databases of
-- the cluster may still use them.
DO $compat$
DECLARE
    marker constant text := 'arbedb auth compatibility';
BEGIN
    IF obj_description(to_regprocedure('auth.uid()'), 'pg_proc') = marker THEN
        DROP FUNCTION auth.uid();
    END IF;
    IF obj_description(to_regprocedure('auth.role()'), 'pg_proc') = marker THEN
        DROP FUNCTION auth.role();
    END IF;
    IF obj_description(to_regprocedure('auth.jwt()'), 'pg_proc') = marker THEN
        DROP FUNCTION auth.jwt();
    END IF;
    IF obj_description(to_regclass('auth.users'), 'pg_class') = marker THEN
        DROP TABLE auth.users;
    END IF;
    IF obj_description(to_regnamespace('auth'), 'pg_namespace') = marker THEN
        DROP SCHEMA auth;
    END IF;
END
$compat$;
