-- The role Electric connects as (model §5): LOGIN, REPLICATION (to create and
-- read its slot), BYPASSRLS (its snapshots must see every row: the proxy, not
-- RLS, scopes what a browser gets), SELECT on the published tables and nothing
-- else: no write, nothing in arbe_private.
--
-- Its name is [tool.arbedb].electric_role (default electric). Its password is
-- set only when ARBEDB_ELECTRIC_PASSWORD is set for `arbedb apply`, which hands
-- this file a SCRAM verifier (the plain password never reaches the server).
--
-- Creating a REPLICATION or BYPASSRLS role needs a superuser (PostgreSQL 15) or
-- a role holding those attributes itself (16+). Supabase's migrating role on
-- PostgreSQL 15 cannot, so there this file warns and skips the role: Electric
-- then connects as `postgres` (it has REPLICATION and BYPASSRLS) over the
-- direct connection. Runs after 10_publication.sql: grants follow the publication.
DO $electric$
DECLARE
    role_name constant text := coalesce(nullif(current_setting('arbedb.electric_role', true), ''), 'electric');
    verifier constant text := nullif(current_setting('arbedb.electric_password', true), '');
    pub constant text := current_setting('arbedb.publication');
    on_supabase constant text := 'on Supabase, connect Electric as the postgres role over the direct (not pooled) connection; '
        'elsewhere, apply once as a superuser';
    published oid[];
    t text;
    rel regclass;
    priv text;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = role_name) THEN
        BEGIN
            EXECUTE format('CREATE ROLE %I LOGIN REPLICATION BYPASSRLS', role_name);
        EXCEPTION
            WHEN insufficient_privilege THEN
                RAISE WARNING 'electric: role % skipped: % may not create a REPLICATION BYPASSRLS role; %',
                    role_name, current_user, on_supabase;
                RETURN;
            WHEN duplicate_object OR unique_violation THEN
                NULL;  -- roles are cluster-wide: an apply in another database made it just now
        END;
    ELSIF NOT (SELECT rolcanlogin AND rolreplication AND rolbypassrls FROM pg_roles WHERE rolname = role_name) THEN
        BEGIN
            EXECUTE format('ALTER ROLE %I LOGIN REPLICATION BYPASSRLS', role_name);
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE WARNING 'electric: role % lacks LOGIN, REPLICATION or BYPASSRLS and % may not grant them; %',
                role_name, current_user, on_supabase;
        END;
    END IF;

    IF verifier IS NOT NULL THEN
        BEGIN
            EXECUTE format('ALTER ROLE %I PASSWORD %L', role_name, verifier);
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE WARNING 'electric: password of role % not set: % may not alter it; set it as a role that can',
                role_name, current_user;
        END;
    END IF;

    SELECT coalesce(array_agg(format('%I.%I', schemaname, tablename)::regclass::oid), '{}') INTO published
    FROM pg_publication_tables WHERE pubname = pub;
    FOR t IN SELECT DISTINCT relnamespace::regnamespace::text FROM pg_class WHERE oid = ANY (published) LOOP
        -- Only where missing: on Supabase (16+) the applier does not own public,
        -- and a GRANT it may not give warns even when PUBLIC's USAGE already covers it.
        IF NOT has_schema_privilege(role_name, t, 'USAGE') THEN
            EXECUTE format('GRANT USAGE ON SCHEMA %s TO %I', t, role_name);
        END IF;
    END LOOP;
    FOREACH rel IN ARRAY published::regclass[] LOOP
        EXECUTE format('GRANT SELECT ON %s TO %I', rel, role_name);
    END LOOP;

    -- Anything else granted to it by hand is taken back.
    FOR rel, priv IN
        SELECT c.oid::regclass, a.privilege_type
        FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a
        WHERE a.grantee = to_regrole(role_name)
          AND c.relnamespace <> ALL (ARRAY['pg_catalog'::regnamespace, 'information_schema'::regnamespace])
          AND NOT (c.oid = ANY (published) AND a.privilege_type = 'SELECT')
    LOOP
        EXECUTE format('REVOKE %s ON %s FROM %I', priv, rel, role_name);
    END LOOP;
    IF has_schema_privilege(role_name, 'arbe_private', 'USAGE') THEN
        EXECUTE format('REVOKE ALL ON SCHEMA arbe_private FROM %I', role_name);
    END IF;
END
$electric$;
