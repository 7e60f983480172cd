-- The Electric publication (model §5). Electric runs with
-- ELECTRIC_MANUAL_TABLE_PUBLISHING=true, so this file, not Electric, decides
-- what is published; Electric only checks it.
--
-- Converges whatever exists to: one publication named by [tool.arbedb].publication
-- (default electric_publication_default), publishing insert, update, delete and
-- truncate, holding exactly the synced tables, each whole (no row filter,
-- no column list) and with REPLICA IDENTITY FULL, so an UPDATE that sets
-- deleted_at carries the old row and Electric can move the row out of a shape.
-- Idempotent: when everything is already so, it changes (and locks) nothing.
--
-- The synced tables are the [tables.*] of electric/shapes.toml, declared there
-- once: the apply prelude hands them over as arbedb.synced_tables (and a change
-- to shapes.toml re-applies this layer). `arbedb verify` fails when the live
-- publication and that file disagree.
DO $electric$
DECLARE
    pub constant text := current_setting('arbedb.publication');
    synced constant text[] := string_to_array(current_setting('arbedb.synced_tables'), ',');
    wanted oid[] := '{}';
    t text;
    rel regclass;
BEGIN
    IF cardinality(synced) = 0 THEN
        RAISE EXCEPTION 'electric: no synced tables'
            USING HINT = 'declare them as [tables.<name>] in electric/shapes.toml';
    END IF;
    FOREACH t IN ARRAY synced LOOP
        IF to_regclass(t) IS NULL THEN
            RAISE EXCEPTION 'electric: synced table % does not exist', t
                USING HINT = 'create it in a revision, or take it out of electric/shapes.toml';
        END IF;
        wanted := wanted || to_regclass(t)::oid;
    END LOOP;

    IF NOT EXISTS (SELECT FROM pg_publication WHERE pubname = pub) THEN
        EXECUTE format('CREATE PUBLICATION %I WITH (publish = %L)', pub, 'insert, update, delete, truncate');
    ELSIF (SELECT puballtables FROM pg_publication WHERE pubname = pub) THEN
        -- Not altered in place: FOR ALL TABLES would publish arbe_private too, and
        -- dropping a publication Electric streams from must be a person's decision.
        RAISE EXCEPTION 'electric: publication % is FOR ALL TABLES, which publishes credential tables', pub
            USING HINT = format('run DROP PUBLICATION %I; then arbedb apply --redeclare recreates it', pub);
    ELSIF NOT (SELECT pubinsert AND pubupdate AND pubdelete AND pubtruncate FROM pg_publication WHERE pubname = pub) THEN
        EXECUTE format('ALTER PUBLICATION %I SET (publish = %L)', pub, 'insert, update, delete, truncate');
    END IF;

    -- Whole schemas (FOR TABLES IN SCHEMA) would publish every future table there.
    FOR t IN
        SELECT n.nspname FROM pg_publication_namespace pn
        JOIN pg_publication p ON p.oid = pn.pnpubid JOIN pg_namespace n ON n.oid = pn.pnnspid
        WHERE p.pubname = pub
    LOOP
        EXECUTE format('ALTER PUBLICATION %I DROP TABLES IN SCHEMA %I', pub, t);
    END LOOP;

    -- Out: tables no longer synced, and tables with a row filter or column list
    -- (those are added back whole below, in this same transaction).
    FOR rel IN
        SELECT pr.prrelid::regclass FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid
        WHERE p.pubname = pub AND (pr.prrelid <> ALL (wanted) OR pr.prqual IS NOT NULL OR pr.prattrs IS NOT NULL)
    LOOP
        EXECUTE format('ALTER PUBLICATION %I DROP TABLE %s', pub, rel);
    END LOOP;

    FOREACH rel IN ARRAY wanted::regclass[] LOOP
        IF (SELECT relreplident FROM pg_class WHERE oid = rel) <> 'f' THEN
            EXECUTE format('ALTER TABLE %s REPLICA IDENTITY FULL', rel);
        END IF;
        IF NOT EXISTS (
            SELECT FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid
            WHERE p.pubname = pub AND pr.prrelid = rel
        ) THEN
            -- SHARE waits for every transaction still writing the table and holds
            -- off new writers until commit: no write can be too late for the
            -- snapshot Electric takes and too early for the stream.
            EXECUTE format('LOCK TABLE %s IN SHARE MODE', rel);
            EXECUTE format('ALTER PUBLICATION %I ADD TABLE %s', pub, rel);
        END IF;
    END LOOP;
END
$electric$;
