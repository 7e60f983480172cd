-- How much one signed-in caller can create (docs/decisions.md): houses per user,
-- invites and API keys per house, each counted over the last 24 hours.
--
-- Since revision 0006 no caller's read depends on what other tenants store
-- (every policy is an index scan), so these bound storage and write load, not
-- anyone else's reads. Rows are never hard-deleted by callers, so a limit on
-- live rows alone would not bound a create-and-revoke loop; a rolling daily
-- count does, at a rate no real use of a house reaches.
--
-- Only for writes made for a signed-in user (arbe.caller_id() set): server code
-- running as service_role carries no user and is trusted. The credential
-- functions insert invites and keys as their owner, but still for the caller
-- whose JWT is set, so they are counted too.
--
-- Arguments: the column counted by (created_by: per user, house_id: per house)
-- and the limit per 24 hours. SECURITY DEFINER: the count includes rows the
-- caller can no longer see (houses they left, revoked invites).
--
-- Concurrent inserts for the same user or house queue on a write of that user's
-- or house's row in arbe_private.creation_slots, so two of them cannot both take
-- the last slot: at READ COMMITTED the second waits and then counts the first's
-- row; at REPEATABLE READ or SERIALIZABLE its write of the same slot fails with a
-- serialization error (40001, retryable) instead of counting on an old snapshot.
-- Not an advisory lock: pg_advisory_xact_lock is executable by every role and
-- its keys are computable, so anyone could hold another tenant's key and stall
-- their creations; nobody but the owner can write or lock a slot row.
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
    INSERT INTO arbe_private.creation_slots AS s (scope, id) VALUES (TG_TABLE_NAME, counted)
    ON CONFLICT ON CONSTRAINT creation_slots_pkey DO UPDATE SET scope = s.scope;
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

CREATE OR REPLACE TRIGGER houses_limit_creation BEFORE INSERT ON public.houses
FOR EACH ROW EXECUTE FUNCTION arbe.limit_creation('created_by', '20');
CREATE OR REPLACE TRIGGER invites_limit_creation BEFORE INSERT ON public.invites
FOR EACH ROW EXECUTE FUNCTION arbe.limit_creation('house_id', '100');
CREATE OR REPLACE TRIGGER api_keys_limit_creation BEFORE INSERT ON public.api_keys
FOR EACH ROW EXECUTE FUNCTION arbe.limit_creation('house_id', '100');

-- A trigger function only: nobody calls it directly.
REVOKE ALL ON FUNCTION arbe.limit_creation() FROM PUBLIC, anon, authenticated, service_role;
