-- How much one signed-in caller can create (docs/decisions.md), each counted over
-- the last 24 hours: houses per user; invites and API keys per member of a house
-- (whoever created them, revoked or not) and per house (only those whose creator
-- still holds the standing to create them).
--
-- Since revision 0006 no caller's read depends on what other tenants store
-- (every policy is an index scan), so these bound storage and write load, not
-- anyone else's reads. Rows are never hard-deleted by callers, so a limit on
-- live rows alone would not bound a create-and-revoke loop; a rolling daily
-- count does, at a rate no real use of a house reaches.
--
-- Why two counts for invites and keys: one member's use must not deny the
-- others. Each member's own count bounds what that member can make, whatever
-- happens to their standing (removing and re-inviting them gives nothing back).
-- The house's count bounds what its creators make together, but stops counting
-- a creator once they are no longer a live admin or owner of the house (as
-- arbe.acceptable_invite stops honouring their invites): an owner who removes
-- an abusive admin gets the house's allowance back at once, instead of a day later.
--
-- Only for writes made for a signed-in user (arbe.caller_id() set): server code
-- running as service_role carries no user and is trusted, and what it creates
-- with no creator counts against nobody. The credential functions insert invites
-- and keys as their owner, but still for the caller whose JWT is set, so they
-- are counted too.
--
-- Arguments: the column naming the creator, the limit per creator, and for
-- tables of a house the limit per house (houses have none: counted per user).
-- SECURITY DEFINER: the counts include rows the caller can no longer see
-- (houses they left, revoked invites) and other members' rows.
--
-- Concurrent inserts for the same user, or into the same house, queue on a write
-- of that user's or house's row in arbe_private.creation_slots (both counts of a
-- house are taken under its one row), so two of them cannot both take the last
-- slot: at READ COMMITTED the second waits and then counts the first's row; at
-- REPEATABLE READ or SERIALIZABLE its write of the same slot fails with a
-- serialization error (40001, retryable) instead of counting on an old snapshot.
-- Not an advisory lock: pg_advisory_xact_lock is executable by every role and
-- its keys are computable, so anyone could hold another tenant's key and stall
-- their creations; nobody but the owner can write or lock a slot row.
CREATE OR REPLACE FUNCTION arbe.limit_creation() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    creator text := TG_ARGV[0];
    per_creator integer := TG_ARGV[1]::integer;
    per_house integer := TG_ARGV[2]::integer;
    me uuid := arbe.caller_id();
    mine integer;
    housewide integer;
    what text := replace(TG_TABLE_NAME, '_', ' ');
BEGIN
    IF me IS NULL THEN
        RETURN NEW;
    END IF;
    INSERT INTO arbe_private.creation_slots AS s (scope, id)
    VALUES (TG_TABLE_NAME, CASE WHEN per_house IS NULL THEN me ELSE NEW.house_id END)
    ON CONFLICT ON CONSTRAINT creation_slots_pkey DO UPDATE SET scope = s.scope;
    IF per_house IS NULL THEN
        EXECUTE format('SELECT count(*) FROM public.%I WHERE %I = $1 AND created_at > now() - interval ''1 day''',
                       TG_TABLE_NAME, creator)
        INTO mine USING me;
    ELSE
        -- One scan of the house's rows for both counts, grouped by creator so
        -- that each creator's standing is asked once.
        EXECUTE format($count$
            SELECT coalesce(sum(n) FILTER (WHERE c = $2), 0),
                   coalesce(sum(n) FILTER (WHERE arbe.holds_admin_standing($1, c)), 0)
            FROM (SELECT t.%2$I AS c, count(*) AS n
                  FROM public.%1$I AS t
                  WHERE t.house_id = $1 AND t.created_at > now() - interval '1 day'
                  GROUP BY t.%2$I) AS per_creator
        $count$, TG_TABLE_NAME, creator)
        INTO mine, housewide USING NEW.house_id, me;
    END IF;
    IF mine >= per_creator THEN
        RAISE EXCEPTION 'at most % % can be created per % in 24 hours', per_creator, what,
            CASE WHEN per_house IS NULL THEN 'user' ELSE 'member of a house' END
        USING ERRCODE = '54000';
    END IF;
    IF housewide >= per_house THEN
        RAISE EXCEPTION 'at most % % can be created per house in 24 hours', per_house, what
        USING ERRCODE = '54000';
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER houses_limit_creation BEFORE INSERT ON public.houses
FOR EACH ROW EXECUTE FUNCTION arbe.limit_creation('created_by', '20');
CREATE OR REPLACE TRIGGER invites_limit_creation BEFORE INSERT ON public.invites
FOR EACH ROW EXECUTE FUNCTION arbe.limit_creation('invited_by', '100', '500');
CREATE OR REPLACE TRIGGER api_keys_limit_creation BEFORE INSERT ON public.api_keys
FOR EACH ROW EXECUTE FUNCTION arbe.limit_creation('created_by', '100', '500');

-- A trigger function only: nobody calls it directly.
REVOKE ALL ON FUNCTION arbe.limit_creation() FROM PUBLIC, anon, authenticated, service_role;
