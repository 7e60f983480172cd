-- members.house_deleted_at is a copy of the house's deleted_at, so that the
-- membership lookup every RLS-gated statement starts with (arbe.caller_house_ids)
-- is one index-only scan instead of a houses probe per membership (see
-- migrations/versions/0003_membership_liveness.up.sql and docs/performance.md's numbers).
--
-- A copy is only as good as its upkeep, so both sides are kept here, for every
-- writer: a membership takes its house's value whenever it is written (a value
-- written by hand is overwritten, never trusted), and a house's soft delete or
-- restore rewrites its live memberships. SECURITY DEFINER on both: the caller may
-- not be allowed to read the house (RLS) or to update the other memberships (the
-- policy, the guards); the copy must follow regardless.

-- Serialising on the house row: every writer of a house's liveness (its soft
-- delete and restore) and of what depends on it (a membership becoming live,
-- an owner leaving) writes the house row, and so waits for the others.
--
-- A write, not SELECT … FOR UPDATE: a row lock only makes the second writer
-- wait. Under READ COMMITTED that is enough (its next statement sees the first
-- one's commit), but under REPEATABLE READ and SERIALIZABLE the snapshot is
-- older than the wait, and PostgreSQL lets a transaction lock, or update, a row
-- that a concurrent transaction merely locked: it would then act on what it
-- saw before, e.g. a soft delete whose cascade does not see a membership created
-- meanwhile. A row a concurrent transaction *updated* is different: REPEATABLE
-- READ and SERIALIZABLE refuse to update it again (SQLSTATE 40001, the client
-- retries), and READ COMMITTED re-reads it. So the write is an UPDATE that
-- changes nothing (touch_updated_at keeps updated_at of an unchanged row).
-- Returns the house as it is now (NULL fields when there is none).
-- Electric sees that write as an UPDATE of the house with the same values.
--
-- What the write costs is kept small: every houses trigger carries a WHEN that
-- a write changing nothing fails (triggers/10_updated_at.sql, 40_guards.sql),
-- so it enters no PL/pgSQL (stamp_dated's alone lets a deleted house's row in,
-- and returns at once for the owner); and it is made once per transaction and house. A
-- house row whose current version this transaction wrote (xmin is its xid) is
-- held until the transaction ends: every later writer conflicts with it
-- already, so writing it again serialises nothing more. Each rewrite was a new
-- row version (1,000 members joining in one statement left 1,000, which each
-- foreign-key check then walked) and ~400 bytes of WAL (houses has REPLICA
-- IDENTITY FULL). xmin is the row's own, written by the server: no caller can
-- set it. A write made inside a subtransaction carries the subtransaction's xid
-- and is simply written again. The test compares 32-bit xids, so a house row
-- untouched for 2^32 transactions and frozen with this transaction's xid would
-- pass it; vacuum keeps its raw xmin, and that one coincidence is the cost.
CREATE OR REPLACE FUNCTION arbe.lock_house(house_id uuid) RETURNS public.houses
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    house public.houses;
BEGIN
    -- Read first: the statement that makes a batch's memberships finds the row
    -- held from its second row on, and a read is cheaper than an UPDATE of no row.
    SELECT h.* INTO house FROM public.houses AS h
    WHERE h.id = lock_house.house_id AND h.xmin = pg_current_xact_id_if_assigned()::xid;
    IF NOT FOUND THEN
        UPDATE public.houses AS h SET deleted_at = h.deleted_at WHERE h.id = lock_house.house_id
        RETURNING h.* INTO house;
    END IF;
    RETURN house;
END
$$;

CREATE OR REPLACE FUNCTION arbe.mirror_house_liveness() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- A membership becoming live (created by accept_invite or service_role, or
    -- restored) serialises with the house's soft delete or restore. Not needed
    -- for a membership that stays live: the cascade writes that row itself, so
    -- the two already conflict on it. Nor when a trigger writes the membership
    -- (pg_trigger_depth() > 1): that is house creation, whose house no other
    -- transaction can see yet, or the cascade, which is the house's own write.
    IF NEW.deleted_at IS NULL AND pg_trigger_depth() = 1
       AND (TG_OP = 'INSERT' OR OLD.deleted_at IS NOT NULL) THEN
        NEW.house_deleted_at := (arbe.lock_house(NEW.house_id)).deleted_at;
    ELSE
        NEW.house_deleted_at := (SELECT h.deleted_at FROM public.houses AS h WHERE h.id = NEW.house_id);
    END IF;
    RETURN NEW;
END
$$;

-- Two triggers, so that an UPDATE can say in its WHEN when there is nothing to
-- do: a membership that was live when written last holds its house's value
-- (it took it then, and the cascade below rewrites live memberships whenever
-- the house's deleted_at changes), so an update that leaves the copy and the
-- house alone needs no read of the house, whatever else it changes (a role, a
-- soft delete). The function runs for every insert; for an update that restores
-- a membership, writes the copy or touches a membership that left.
CREATE OR REPLACE TRIGGER members_mirror_house_liveness BEFORE INSERT ON public.members
FOR EACH ROW EXECUTE FUNCTION arbe.mirror_house_liveness();
CREATE OR REPLACE TRIGGER members_mirror_house_liveness_on_update BEFORE UPDATE ON public.members
FOR EACH ROW WHEN (
    old.deleted_at IS NOT NULL
    OR (old.house_id, old.house_deleted_at) IS DISTINCT FROM (new.house_id, new.house_deleted_at)
)
EXECUTE FUNCTION arbe.mirror_house_liveness();

CREATE OR REPLACE FUNCTION arbe.cascade_house_liveness() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- The members trigger above reads the new value from the (already updated) house.
    -- Live memberships only: a member who left (or was removed) keeps the row as
    -- it was when they left, since they can still read it; nothing of the house's
    -- later life (its deleted_at, an updated_at) may reach them through it.
    UPDATE public.members AS m SET house_deleted_at = NEW.deleted_at
    WHERE m.house_id = NEW.id AND m.deleted_at IS NULL AND m.house_deleted_at IS DISTINCT FROM NEW.deleted_at;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER houses_cascade_liveness AFTER UPDATE OF deleted_at ON public.houses
FOR EACH ROW WHEN (old.deleted_at IS DISTINCT FROM new.deleted_at)
EXECUTE FUNCTION arbe.cascade_house_liveness();

-- Trigger functions and their helper only: nobody calls them directly (lock_house
-- takes a row lock on any house, so a caller must never reach it).
REVOKE ALL ON FUNCTION arbe.lock_house(uuid), arbe.mirror_house_liveness(), arbe.cascade_house_liveness()
FROM PUBLIC, anon, authenticated, service_role;
