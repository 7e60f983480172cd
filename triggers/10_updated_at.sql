-- Timestamps are the server's clock, whatever a client sends.

-- updated_at moves on every change. A write that changes nothing keeps it: the
-- house row's serialising write (arbe.lock_house) is such a write, and a
-- member joining must not look like the house changed.
-- Whether anything changed is the trigger's WHEN, record_image_ne(old, new)
-- (the `*<>` operator: the two rows' stored images compared in C), so a no-op
-- write never enters PL/pgSQL and a change pays for one assignment (it compared
-- to_jsonb of both rows before, 17-28 µs a row; docs/performance.md). Not
-- `old.* IS DISTINCT FROM new.*`, which needs an equality operator for every
-- column and fails on a json column of a user's table. Every table's trigger
-- carries this WHEN (`arbedb new-table` writes it, lint ARB026 asks for it).
CREATE OR REPLACE FUNCTION arbe.touch_updated_at() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER houses_touch_updated_at BEFORE UPDATE ON public.houses
FOR EACH ROW WHEN (record_image_ne(old, new)) EXECUTE FUNCTION arbe.touch_updated_at();
CREATE OR REPLACE TRIGGER members_touch_updated_at BEFORE UPDATE ON public.members
FOR EACH ROW WHEN (record_image_ne(old, new)) EXECUTE FUNCTION arbe.touch_updated_at();
CREATE OR REPLACE TRIGGER agents_touch_updated_at BEFORE UPDATE ON public.agents
FOR EACH ROW WHEN (record_image_ne(old, new)) EXECUTE FUNCTION arbe.touch_updated_at();
CREATE OR REPLACE TRIGGER environments_touch_updated_at BEFORE UPDATE ON public.environments
FOR EACH ROW WHEN (record_image_ne(old, new)) EXECUTE FUNCTION arbe.touch_updated_at();
CREATE OR REPLACE TRIGGER threads_touch_updated_at BEFORE UPDATE ON public.threads
FOR EACH ROW WHEN (record_image_ne(old, new)) EXECUTE FUNCTION arbe.touch_updated_at();
CREATE OR REPLACE TRIGGER configs_touch_updated_at BEFORE UPDATE ON public.configs
FOR EACH ROW WHEN (record_image_ne(old, new)) EXECUTE FUNCTION arbe.touch_updated_at();
CREATE OR REPLACE TRIGGER secrets_touch_updated_at BEFORE UPDATE ON public.secrets
FOR EACH ROW WHEN (record_image_ne(old, new)) EXECUTE FUNCTION arbe.touch_updated_at();
CREATE OR REPLACE TRIGGER invites_touch_updated_at BEFORE UPDATE ON public.invites
FOR EACH ROW WHEN (record_image_ne(old, new)) EXECUTE FUNCTION arbe.touch_updated_at();
CREATE OR REPLACE TRIGGER api_keys_touch_updated_at BEFORE UPDATE ON public.api_keys
FOR EACH ROW WHEN (record_image_ne(old, new)) EXECUTE FUNCTION arbe.touch_updated_at();

-- On insert, an RLS-subject caller's row is stamped with the server's time:
-- an optimistic client chooses the id it inserts, never when it happened.
-- Trusted server code (service_role) may write its own (imports, backfills).
-- On every table, also those callers insert into only through SECURITY DEFINER
-- functions (members, invites, api_keys): their statements run as the owner,
-- which bypasses RLS, and set no timestamp, so the column defaults apply there.
--
-- "An RLS-subject caller" is row_security_active(TG_RELID): whether RLS applies
-- to this table for current_user, which on a table with RLS enabled and forced
-- (every house table, lint ARB002) is exactly NOT arbe.caller_bypasses_rls(),
-- answered in C from the role and the table (tests/test_write_guards.py holds
-- the two to each other for every kind of role). The guards below ask it the
-- same way: a PL/pgSQL call and a pg_roles lookup per row cost 12-15 µs, once
-- per trigger, on every row of a batch. It reads only current_user and the
-- catalog: no setting a caller can SET changes its answer.
CREATE OR REPLACE FUNCTION arbe.stamp_inserted() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF row_security_active(TG_RELID) THEN
        NEW.created_at := now();
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER houses_stamp_inserted BEFORE INSERT ON public.houses
FOR EACH ROW EXECUTE FUNCTION arbe.stamp_inserted();
CREATE OR REPLACE TRIGGER members_stamp_inserted BEFORE INSERT ON public.members
FOR EACH ROW EXECUTE FUNCTION arbe.stamp_inserted();
CREATE OR REPLACE TRIGGER agents_stamp_inserted BEFORE INSERT ON public.agents
FOR EACH ROW EXECUTE FUNCTION arbe.stamp_inserted();
CREATE OR REPLACE TRIGGER environments_stamp_inserted BEFORE INSERT ON public.environments
FOR EACH ROW EXECUTE FUNCTION arbe.stamp_inserted();
CREATE OR REPLACE TRIGGER threads_stamp_inserted BEFORE INSERT ON public.threads
FOR EACH ROW EXECUTE FUNCTION arbe.stamp_inserted();
CREATE OR REPLACE TRIGGER configs_stamp_inserted BEFORE INSERT ON public.configs
FOR EACH ROW EXECUTE FUNCTION arbe.stamp_inserted();
CREATE OR REPLACE TRIGGER secrets_stamp_inserted BEFORE INSERT ON public.secrets
FOR EACH ROW EXECUTE FUNCTION arbe.stamp_inserted();
CREATE OR REPLACE TRIGGER invites_stamp_inserted BEFORE INSERT ON public.invites
FOR EACH ROW EXECUTE FUNCTION arbe.stamp_inserted();
CREATE OR REPLACE TRIGGER api_keys_stamp_inserted BEFORE INSERT ON public.api_keys
FOR EACH ROW EXECUTE FUNCTION arbe.stamp_inserted();

-- The columns that date an event a caller causes (deleted_at: a soft delete;
-- api_keys.revoked_at: a revocation) are the server's time too: when an
-- RLS-subject caller sets one, by INSERT or UPDATE, whatever it sends (1970, a
-- date before a leak, the client's own clock) is replaced by now(). Replaced, not
-- refused: clients that send their own clock's time keep working, and the stored
-- date is the server's either way. Only the setting is stamped: changing a date
-- once set is refused before this runs (freeze_deleted: a deleted row is frozen;
-- keep_immutable: revoked_at is set once), so a stamped date stays. Trusted server
-- code (service_role) may write its own, as for created_at (imports, backfills).
-- deleted_at, which every house table has, is read straight from the rows;
-- arguments name the table's other event columns (read by name, through jsonb).
-- The trigger's WHEN (an event column is set at all) keeps every other write
-- out of PL/pgSQL; it must name deleted_at and every argument.
CREATE OR REPLACE FUNCTION arbe.stamp_dated() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    col text;
    new_row jsonb;
    old_row jsonb;
    stamped jsonb := '{}'::jsonb;
BEGIN
    IF NOT row_security_active(TG_RELID) THEN
        RETURN NEW;
    END IF;
    IF NEW.deleted_at IS NOT NULL AND (TG_OP = 'INSERT' OR NEW.deleted_at IS DISTINCT FROM OLD.deleted_at) THEN
        NEW.deleted_at := now();
    END IF;
    IF TG_NARGS = 0 THEN
        RETURN NEW;
    END IF;
    new_row := to_jsonb(NEW);
    old_row := CASE TG_OP WHEN 'UPDATE' THEN to_jsonb(OLD) ELSE '{}' END;
    FOREACH col IN ARRAY TG_ARGV LOOP
        IF jsonb_typeof(new_row -> col) IS DISTINCT FROM 'null'
           AND (new_row -> col) IS DISTINCT FROM coalesce(old_row -> col, 'null') THEN
            stamped := stamped || jsonb_build_object(col, now());
        END IF;
    END LOOP;
    IF stamped = '{}' THEN
        RETURN NEW;
    END IF;
    RETURN jsonb_populate_record(NEW, stamped);
END
$$;

CREATE OR REPLACE TRIGGER houses_stamp_dated BEFORE INSERT OR UPDATE ON public.houses
FOR EACH ROW WHEN (new.deleted_at IS NOT NULL) EXECUTE FUNCTION arbe.stamp_dated();
CREATE OR REPLACE TRIGGER members_stamp_dated BEFORE INSERT OR UPDATE ON public.members
FOR EACH ROW WHEN (new.deleted_at IS NOT NULL) EXECUTE FUNCTION arbe.stamp_dated();
CREATE OR REPLACE TRIGGER agents_stamp_dated BEFORE INSERT OR UPDATE ON public.agents
FOR EACH ROW WHEN (new.deleted_at IS NOT NULL) EXECUTE FUNCTION arbe.stamp_dated();
CREATE OR REPLACE TRIGGER environments_stamp_dated BEFORE INSERT OR UPDATE ON public.environments
FOR EACH ROW WHEN (new.deleted_at IS NOT NULL) EXECUTE FUNCTION arbe.stamp_dated();
CREATE OR REPLACE TRIGGER threads_stamp_dated BEFORE INSERT OR UPDATE ON public.threads
FOR EACH ROW WHEN (new.deleted_at IS NOT NULL) EXECUTE FUNCTION arbe.stamp_dated();
CREATE OR REPLACE TRIGGER configs_stamp_dated BEFORE INSERT OR UPDATE ON public.configs
FOR EACH ROW WHEN (new.deleted_at IS NOT NULL) EXECUTE FUNCTION arbe.stamp_dated();
CREATE OR REPLACE TRIGGER secrets_stamp_dated BEFORE INSERT OR UPDATE ON public.secrets
FOR EACH ROW WHEN (new.deleted_at IS NOT NULL) EXECUTE FUNCTION arbe.stamp_dated();
CREATE OR REPLACE TRIGGER invites_stamp_dated BEFORE INSERT OR UPDATE ON public.invites
FOR EACH ROW WHEN (new.deleted_at IS NOT NULL) EXECUTE FUNCTION arbe.stamp_dated();
CREATE OR REPLACE TRIGGER api_keys_stamp_dated BEFORE INSERT OR UPDATE ON public.api_keys
FOR EACH ROW WHEN (new.deleted_at IS NOT NULL OR new.revoked_at IS NOT NULL)
EXECUTE FUNCTION arbe.stamp_dated('revoked_at');
