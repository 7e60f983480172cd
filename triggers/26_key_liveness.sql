-- api_keys.house_deleted_at and api_keys.agent_deleted_at are copies of the
-- deleted_at of the key's house and agent, so that the check every statement a
-- key runs starts with (arbe.live_api_key) reads the key's row alone: one
-- primary-key lookup instead of three (migrations/versions/0007_key_liveness.up.sql).
--
-- The same upkeep as members.house_deleted_at (25_membership_liveness.sql), for
-- every writer: a key takes its house's and agent's values whenever it is
-- written (a value written by hand is overwritten, never trusted), and a house's
-- or agent's soft delete or restore rewrites its live keys. SECURITY DEFINER:
-- the writer may not be allowed to read the house or agent, or to update keys.

-- Serialising on the agent row, as arbe.lock_house does on the house row and
-- for the same reason (see there): a write that changes nothing, not FOR UPDATE,
-- so that a REPEATABLE READ or SERIALIZABLE transaction that soft-deletes the
-- agent meanwhile fails with 40001 instead of cascading over a snapshot that
-- does not hold the new key. Electric sees an UPDATE of the agent with the same values.
CREATE OR REPLACE FUNCTION arbe.lock_agent(house_id uuid, agent_id uuid) RETURNS public.agents
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    agent public.agents;
BEGIN
    UPDATE public.agents AS a SET deleted_at = a.deleted_at
    WHERE a.house_id = lock_agent.house_id AND a.id = lock_agent.agent_id
    RETURNING a.* INTO agent;
    RETURN agent;
END
$$;

CREATE OR REPLACE FUNCTION arbe.mirror_key_liveness() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- A key that may start acting (created, restored from a soft delete, or moved
    -- to another agent by server code; revoking is one-way) serialises with the
    -- soft delete or restore of its house and agent: house row first, then the
    -- agent's (a transaction writing an agent and then its house may deadlock
    -- with it: 40P01, which the client retries like 40001). A key that
    -- stays as it was is written by the cascade itself, so the two already
    -- conflict on the key's row. A trigger's write (pg_trigger_depth() > 1) is
    -- the cascade, the house's or agent's own write.
    IF NEW.deleted_at IS NULL AND NEW.revoked_at IS NULL AND pg_trigger_depth() = 1
       AND (TG_OP = 'INSERT' OR OLD.deleted_at IS NOT NULL OR OLD.agent_id IS DISTINCT FROM NEW.agent_id) THEN
        NEW.house_deleted_at := (arbe.lock_house(NEW.house_id)).deleted_at;
        NEW.agent_deleted_at := CASE WHEN NEW.agent_id IS NOT NULL
                                     THEN (arbe.lock_agent(NEW.house_id, NEW.agent_id)).deleted_at END;
    ELSE
        NEW.house_deleted_at := (SELECT h.deleted_at FROM public.houses AS h WHERE h.id = NEW.house_id);
        NEW.agent_deleted_at := (SELECT a.deleted_at FROM public.agents AS a
                                 WHERE a.house_id = NEW.house_id AND a.id = NEW.agent_id);
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER api_keys_mirror_liveness BEFORE INSERT OR UPDATE ON public.api_keys
FOR EACH ROW EXECUTE FUNCTION arbe.mirror_key_liveness();

CREATE OR REPLACE FUNCTION arbe.cascade_key_liveness() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- The key trigger above reads the new values from the (already updated) house
    -- or agent; what is set here only makes the row change. Keys not soft-deleted
    -- (revoked ones too: cheap, and their row then tells the truth): a deleted
    -- key is frozen, and takes the values afresh if server code ever restores it.
    IF TG_TABLE_NAME = 'houses' THEN
        UPDATE public.api_keys AS k SET house_deleted_at = NEW.deleted_at
        WHERE k.house_id = NEW.id AND k.deleted_at IS NULL
          AND k.house_deleted_at IS DISTINCT FROM NEW.deleted_at;
    ELSE
        UPDATE public.api_keys AS k SET agent_deleted_at = NEW.deleted_at
        WHERE k.house_id = NEW.house_id AND k.agent_id = NEW.id AND k.deleted_at IS NULL
          AND k.agent_deleted_at IS DISTINCT FROM NEW.deleted_at;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER houses_cascade_key_liveness AFTER UPDATE OF deleted_at ON public.houses
FOR EACH ROW WHEN (old.deleted_at IS DISTINCT FROM new.deleted_at)
EXECUTE FUNCTION arbe.cascade_key_liveness();
CREATE OR REPLACE TRIGGER agents_cascade_key_liveness AFTER UPDATE OF deleted_at ON public.agents
FOR EACH ROW WHEN (old.deleted_at IS DISTINCT FROM new.deleted_at)
EXECUTE FUNCTION arbe.cascade_key_liveness();

-- Trigger functions and their helper only: nobody calls them directly (lock_agent
-- writes any agent row, so a caller must never reach it).
REVOKE ALL ON FUNCTION arbe.lock_agent(uuid, uuid), arbe.mirror_key_liveness(), arbe.cascade_key_liveness()
FROM PUBLIC, anon, authenticated, service_role;
