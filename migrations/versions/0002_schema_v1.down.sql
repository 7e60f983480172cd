-- 0002 downgrade: drop the two schemas, then the tables (children first).
-- Electric: every synced table goes; all shapes are dropped.
-- arbe is dropped with CASCADE first because the declarative layer (policies/,
-- triggers/) puts its functions there, and the policies and triggers on the
-- tables depend on them; nothing else may live in arbe or arbe_private.

-- The declarative electric/ layer published these tables and let Electric's role
-- into public. With the tables gone, take both back, so that downgrading to
-- base leaves no trace (the role itself is cluster-wide and stays).
DO $down$
DECLARE
    pub constant text := coalesce(nullif(current_setting('arbedb.publication', true), ''),
                                  'electric_publication_default');
    role_name constant text := coalesce(nullif(current_setting('arbedb.electric_role', true), ''), 'electric');
BEGIN
    EXECUTE format('DROP PUBLICATION IF EXISTS %I', pub);
    IF to_regrole(role_name) IS NOT NULL THEN
        EXECUTE format('REVOKE ALL ON SCHEMA public FROM %I', role_name);
    END IF;
END
$down$;

-- The Data API wrappers (policies/70_data_api.sql) live in public and call into
-- arbe; they are marked by their comment.
DO $down$
DECLARE
    wrapper regprocedure;
BEGIN
    FOR wrapper IN SELECT p.oid FROM pg_proc AS p
                   WHERE p.pronamespace = 'public'::regnamespace
                     AND obj_description(p.oid, 'pg_proc') LIKE 'arbedb: Data API wrapper of %' LOOP
        EXECUTE format('DROP FUNCTION %s', wrapper);
    END LOOP;
END
$down$;

DROP SCHEMA arbe CASCADE;
DROP SCHEMA arbe_private CASCADE;
DROP TABLE public.api_keys;
DROP TABLE public.invites;
DROP TABLE public.secrets;
DROP TABLE public.configs;
DROP TABLE public.threads;
DROP TABLE public.environments;
DROP TABLE public.agents;
DROP TABLE public.members;
DROP TABLE public.houses;
