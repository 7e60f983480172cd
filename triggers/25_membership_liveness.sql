-- members.house_deleted_at is a copy of the house's deleted_at, so that the
-- membership lookup every RLS-gated statement starts with (arbe.caller_house_ids)
-- is one index-only scan instead of a houses probe per membership (see
-- migrations/versions/0003_membership_liveness.up.sql and the README's numbers).
--
-- A copy is only as good as its upkeep, so both sides are kept here, for every
-- writer: a membership takes its house's value whenever it is written (a value
-- written by hand is overwritten, never trusted), and a house's soft delete or
-- restore rewrites its memberships. SECURITY DEFINER on both: the caller may not
-- be allowed to read the house (RLS) or to update the other memberships (the
-- policy, the guards); the copy must follow regardless.

CREATE OR REPLACE FUNCTION arbe.mirror_house_liveness() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    NEW.house_deleted_at := (SELECT h.deleted_at FROM public.houses AS h WHERE h.id = NEW.house_id);
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER members_mirror_house_liveness BEFORE INSERT OR UPDATE ON public.members
FOR EACH ROW EXECUTE FUNCTION arbe.mirror_house_liveness();

CREATE OR REPLACE FUNCTION arbe.cascade_house_liveness() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    -- The members trigger above reads the new value from the (already updated) house.
    UPDATE public.members AS m SET house_deleted_at = NEW.deleted_at
    WHERE m.house_id = NEW.id AND m.house_deleted_at IS DISTINCT FROM NEW.deleted_at;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER houses_cascade_liveness AFTER UPDATE OF deleted_at ON public.houses
FOR EACH ROW WHEN (old.deleted_at IS DISTINCT FROM new.deleted_at)
EXECUTE FUNCTION arbe.cascade_house_liveness();

-- Trigger functions only: nobody calls them directly.
REVOKE ALL ON FUNCTION arbe.mirror_house_liveness(), arbe.cascade_house_liveness() FROM PUBLIC, anon;
