-- 0009 downgrade: the creation limits serialise on advisory locks again.
--
-- The declarative layer at head writes the table, so first put back what
-- 0008's layer had (with the search_path every definer function now sets).
-- (`arbedb apply` re-declares the whole layer when it upgrades again.)

CREATE OR REPLACE FUNCTION arbe.limit_creation() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    scope text := TG_ARGV[0];
    per_day integer := TG_ARGV[1]::integer;
    counted uuid;
    made integer;
BEGIN
    IF arbe.caller_id() IS NULL THEN
        RETURN NEW;
    END IF;
    counted := CASE scope WHEN 'created_by' THEN arbe.caller_id() ELSE NEW.house_id END;
    PERFORM pg_catalog.pg_advisory_xact_lock(
        pg_catalog.hashtextextended(TG_TABLE_NAME || ':' || counted::text, 0));
    EXECUTE format('SELECT count(*) FROM public.%I WHERE %I = $1 AND created_at > now() - interval ''1 day''',
                   TG_TABLE_NAME, scope)
    INTO made USING counted;
    IF made >= per_day THEN
        RAISE EXCEPTION 'at most % % can be created per % in 24 hours', per_day, replace(TG_TABLE_NAME, '_', ' '),
            CASE scope WHEN 'created_by' THEN 'user' ELSE 'house' END
        USING ERRCODE = '54000';
    END IF;
    RETURN NEW;
END
$$;

DROP TABLE arbe_private.creation_slots;
