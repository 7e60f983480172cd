-- Guards: the rules a policy cannot express because they compare the old row
-- with the new one. Each raises with SQLSTATE 42501 and a message that names
-- only the rule, never another house's data.

-- Columns that never change once written (model §3/§4), for every caller:
-- server code has no reason to rewrite them either, and Electric consumers key
-- rows by them. An argument 'once:col' allows one change from NULL to a value
-- (revoking a key, accepting an invite) and none after.
-- The trigger's WHEN compares the argument columns (all of them, 'once:' ones
-- too) in C, so the function, which reads columns by name through jsonb, runs
-- only when one of them changes; a WHEN that leaves one out leaves it mutable
-- (lint ARB026 compares the two).
CREATE OR REPLACE FUNCTION arbe.keep_immutable() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    old_row jsonb := to_jsonb(OLD);
    new_row jsonb := to_jsonb(NEW);
    arg text;
    col text;
BEGIN
    FOREACH arg IN ARRAY TG_ARGV LOOP
        col := CASE WHEN arg LIKE 'once:%' THEN substr(arg, 6) ELSE arg END;
        IF new_row -> col IS DISTINCT FROM old_row -> col
           AND NOT (arg LIKE 'once:%' AND jsonb_typeof(old_row -> col) = 'null') THEN
            RAISE EXCEPTION '%.% cannot be changed once set', TG_TABLE_NAME, col USING ERRCODE = '42501';
        END IF;
    END LOOP;
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER houses_keep_immutable BEFORE UPDATE ON public.houses
FOR EACH ROW WHEN (
    (old.id, old.house_id, old.created_by, old.created_at)
    IS DISTINCT FROM (new.id, new.house_id, new.created_by, new.created_at)
)
EXECUTE FUNCTION arbe.keep_immutable('id', 'house_id', 'created_by', 'created_at');
CREATE OR REPLACE TRIGGER members_keep_immutable BEFORE UPDATE ON public.members
FOR EACH ROW WHEN (
    (old.id, old.house_id, old.user_id, old.created_at)
    IS DISTINCT FROM (new.id, new.house_id, new.user_id, new.created_at)
)
EXECUTE FUNCTION arbe.keep_immutable('id', 'house_id', 'user_id', 'created_at');
CREATE OR REPLACE TRIGGER agents_keep_immutable BEFORE UPDATE ON public.agents
FOR EACH ROW WHEN (
    (old.id, old.house_id, old.created_by, old.created_at)
    IS DISTINCT FROM (new.id, new.house_id, new.created_by, new.created_at)
)
EXECUTE FUNCTION arbe.keep_immutable('id', 'house_id', 'created_by', 'created_at');
CREATE OR REPLACE TRIGGER environments_keep_immutable BEFORE UPDATE ON public.environments
FOR EACH ROW WHEN (
    (old.id, old.house_id, old.created_by, old.created_at)
    IS DISTINCT FROM (new.id, new.house_id, new.created_by, new.created_at)
)
EXECUTE FUNCTION arbe.keep_immutable('id', 'house_id', 'created_by', 'created_at');
CREATE OR REPLACE TRIGGER threads_keep_immutable BEFORE UPDATE ON public.threads
FOR EACH ROW WHEN (
    (old.id, old.house_id, old.created_by, old.created_at)
    IS DISTINCT FROM (new.id, new.house_id, new.created_by, new.created_at)
)
EXECUTE FUNCTION arbe.keep_immutable('id', 'house_id', 'created_by', 'created_at');
CREATE OR REPLACE TRIGGER configs_keep_immutable BEFORE UPDATE ON public.configs
FOR EACH ROW WHEN (
    (old.id, old.house_id, old.created_at)
    IS DISTINCT FROM (new.id, new.house_id, new.created_at)
)
EXECUTE FUNCTION arbe.keep_immutable('id', 'house_id', 'created_at');
CREATE OR REPLACE TRIGGER secrets_keep_immutable BEFORE UPDATE ON public.secrets
FOR EACH ROW WHEN (
    (old.id, old.house_id, old.created_by, old.created_at)
    IS DISTINCT FROM (new.id, new.house_id, new.created_by, new.created_at)
)
EXECUTE FUNCTION arbe.keep_immutable('id', 'house_id', 'created_by', 'created_at');
CREATE OR REPLACE TRIGGER invites_keep_immutable BEFORE UPDATE ON public.invites
FOR EACH ROW WHEN (
    (old.id, old.house_id, old.email, old.role, old.invited_by, old.created_at, old.accepted_at, old.accepted_by)
    IS DISTINCT FROM
    (new.id, new.house_id, new.email, new.role, new.invited_by, new.created_at, new.accepted_at, new.accepted_by)
)
EXECUTE FUNCTION arbe.keep_immutable(
    'id', 'house_id', 'email', 'role', 'invited_by', 'created_at', 'once:accepted_at', 'once:accepted_by'
);
CREATE OR REPLACE TRIGGER api_keys_keep_immutable BEFORE UPDATE ON public.api_keys
FOR EACH ROW WHEN (
    (old.id, old.house_id, old.prefix, old.created_by, old.created_at, old.revoked_at)
    IS DISTINCT FROM (new.id, new.house_id, new.prefix, new.created_by, new.created_at, new.revoked_at)
)
EXECUTE FUNCTION arbe.keep_immutable(
    'id', 'house_id', 'prefix', 'created_by', 'created_at', 'once:revoked_at'
);

-- A soft-deleted row is frozen for callers under RLS: deleting is one-way, and
-- nothing of a deleted row changes afterwards (restoring is service_role's call).
-- Not on houses: a deleted house is out of every caller's reach already (the
-- UPDATE policy needs a live membership in a live house).
-- One trigger rather than `deleted_at IS NULL` in every UPDATE policy: USING is
-- also the new row's check there, and a soft delete must be able to set it.
-- The trigger's WHEN (the row was deleted) keeps every write of a live row out
-- of PL/pgSQL; "under RLS" is asked as in triggers/10_updated_at.sql.
CREATE OR REPLACE FUNCTION arbe.freeze_deleted() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF OLD.deleted_at IS NOT NULL AND row_security_active(TG_RELID) THEN
        RAISE EXCEPTION 'a deleted %.% row cannot be changed', TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = '42501';
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER members_freeze_deleted BEFORE UPDATE ON public.members
FOR EACH ROW WHEN (old.deleted_at IS NOT NULL) EXECUTE FUNCTION arbe.freeze_deleted();
CREATE OR REPLACE TRIGGER agents_freeze_deleted BEFORE UPDATE ON public.agents
FOR EACH ROW WHEN (old.deleted_at IS NOT NULL) EXECUTE FUNCTION arbe.freeze_deleted();
CREATE OR REPLACE TRIGGER environments_freeze_deleted BEFORE UPDATE ON public.environments
FOR EACH ROW WHEN (old.deleted_at IS NOT NULL) EXECUTE FUNCTION arbe.freeze_deleted();
CREATE OR REPLACE TRIGGER threads_freeze_deleted BEFORE UPDATE ON public.threads
FOR EACH ROW WHEN (old.deleted_at IS NOT NULL) EXECUTE FUNCTION arbe.freeze_deleted();
CREATE OR REPLACE TRIGGER configs_freeze_deleted BEFORE UPDATE ON public.configs
FOR EACH ROW WHEN (old.deleted_at IS NOT NULL) EXECUTE FUNCTION arbe.freeze_deleted();
CREATE OR REPLACE TRIGGER secrets_freeze_deleted BEFORE UPDATE ON public.secrets
FOR EACH ROW WHEN (old.deleted_at IS NOT NULL) EXECUTE FUNCTION arbe.freeze_deleted();
CREATE OR REPLACE TRIGGER invites_freeze_deleted BEFORE UPDATE ON public.invites
FOR EACH ROW WHEN (old.deleted_at IS NOT NULL) EXECUTE FUNCTION arbe.freeze_deleted();
CREATE OR REPLACE TRIGGER api_keys_freeze_deleted BEFORE UPDATE ON public.api_keys
FOR EACH ROW WHEN (old.deleted_at IS NOT NULL) EXECUTE FUNCTION arbe.freeze_deleted();

-- An API key changes only the columns named in the arguments (model §4b:
-- status, title and usage of its agent's threads). Column grants cannot say
-- this, a key and a user are both `authenticated`, so the guard asks who is
-- calling: any claims naming a key (live or not; a dead one reaches no row
-- anyway). updated_at is the server's bookkeeping, not the caller's change.
-- Trusted roles skip it, asked as in triggers/10_updated_at.sql.
CREATE OR REPLACE FUNCTION arbe.limit_key_columns() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    changed text[];
BEGIN
    IF row_security_active(TG_RELID) THEN
        IF (arbe.caller_claims()).api_key_id IS NOT NULL THEN
            SELECT array_agg(n.key ORDER BY n.key) INTO changed
            FROM jsonb_each(to_jsonb(NEW)) AS n
            WHERE n.value IS DISTINCT FROM to_jsonb(OLD) -> n.key
              AND n.key <> 'updated_at' AND n.key <> ALL (TG_ARGV);
            IF changed IS NOT NULL THEN
                RAISE EXCEPTION 'an API key may change only % of %', array_to_string(TG_ARGV, ', '), TG_TABLE_NAME
                USING ERRCODE = '42501';
            END IF;
        END IF;
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER threads_limit_key_columns BEFORE UPDATE ON public.threads
FOR EACH ROW EXECUTE FUNCTION arbe.limit_key_columns('status', 'title', 'usage');

-- A live house keeps at least one live owner, whoever is writing.
-- Serialised per house by a write of the house row (arbe.lock_house, which says
-- why a write and not a row lock): of two owners demoting or removing each other
-- at once, the second waits for the first; under READ COMMITTED its count (a new
-- statement, a new snapshot) then sees the first one's change, and under
-- REPEATABLE READ or SERIALIZABLE its write of the house row fails with a
-- serialization error instead of counting on a snapshot that predates the other.
-- That holds for every pair of isolation levels the two may run at, and also
-- when the second acts after the first committed on an older snapshot.
CREATE OR REPLACE FUNCTION arbe.assert_keeps_an_owner(house_id uuid, member_id uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    house public.houses := arbe.lock_house(assert_keeps_an_owner.house_id);
BEGIN
    IF house.id IS NULL OR house.deleted_at IS NOT NULL THEN
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT FROM public.members AS m
                   WHERE m.house_id = assert_keeps_an_owner.house_id AND m.id <> assert_keeps_an_owner.member_id
                     AND m.role = 'owner' AND m.deleted_at IS NULL) THEN
        RAISE EXCEPTION 'the last owner of a house can be neither demoted nor removed' USING ERRCODE = '42501';
    END IF;
END
$$;

-- A hard delete cannot be refused the way a demotion is: Supabase deletes an
-- account with DELETE FROM auth.users, whose memberships cascade, and
-- service_role may DELETE a membership outright. When that takes a live house's
-- last live owner, the house is soft-deleted in the same statement
-- (docs/decisions.md: nobody else agreed to own it, and service_role can restore
-- it once it has granted an owner). Serialised on the house row like the guard
-- above, so a hard delete racing a demotion cannot leave a live house ownerless.
CREATE OR REPLACE FUNCTION arbe.retire_ownerless_house() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    house public.houses := arbe.lock_house(OLD.house_id);
BEGIN
    IF house.id IS NOT NULL AND house.deleted_at IS NULL
       AND NOT EXISTS (SELECT FROM public.members AS m
                       WHERE m.house_id = OLD.house_id AND m.role = 'owner' AND m.deleted_at IS NULL) THEN
        UPDATE public.houses AS h SET deleted_at = now() WHERE h.id = OLD.house_id;
    END IF;
    RETURN NULL;
END
$$;

-- AFTER, once per deleted row but after the whole statement: a DELETE of every
-- owner at once is judged on what it leaves.
CREATE OR REPLACE TRIGGER members_retire_ownerless_house AFTER DELETE ON public.members
FOR EACH ROW WHEN (old.role = 'owner' AND old.deleted_at IS NULL)
EXECUTE FUNCTION arbe.retire_ownerless_house();

-- members: who may change a membership how (model §4). The policy already limits
-- an RLS-subject caller to their own rows and to houses where they are admin+.
CREATE OR REPLACE FUNCTION arbe.guard_members() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    my_role text;
BEGIN
    IF row_security_active(TG_RELID) THEN
        my_role := arbe.house_role(OLD.house_id);
        IF NEW.role IS DISTINCT FROM OLD.role THEN
            IF arbe.role_rank(my_role) < arbe.role_rank('admin') THEN
                RAISE EXCEPTION 'only an admin or owner can change roles' USING ERRCODE = '42501';
            END IF;
            IF (OLD.role = 'owner' OR NEW.role = 'owner') AND my_role IS DISTINCT FROM 'owner' THEN
                RAISE EXCEPTION 'only an owner can grant or remove the owner role' USING ERRCODE = '42501';
            END IF;
        END IF;
        IF OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL
           AND OLD.user_id IS DISTINCT FROM arbe.caller_id()  -- leaving is always allowed
           AND my_role IS DISTINCT FROM 'owner'
           AND NOT (arbe.role_rank(my_role) >= arbe.role_rank('admin') AND OLD.role <> 'owner') THEN
            RAISE EXCEPTION 'only an owner can remove an owner, and only an admin or owner a member'
            USING ERRCODE = '42501';
        END IF;
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER members_guard BEFORE UPDATE ON public.members
FOR EACH ROW EXECUTE FUNCTION arbe.guard_members();

-- The last-owner rule, for every writer, in a trigger of its own: SECURITY
-- DEFINER, so it calls arbe.assert_keeps_an_owner as the owner and no caller
-- needs EXECUTE on it (called directly, it would lock any house's row for as
-- long as the caller's transaction stays open). A trigger function needs no
-- EXECUTE grant to fire. Fires after members_guard (triggers run in name order).
CREATE OR REPLACE FUNCTION arbe.keep_an_owner() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM arbe.assert_keeps_an_owner(OLD.house_id, OLD.id);
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER members_keep_an_owner BEFORE UPDATE ON public.members
FOR EACH ROW WHEN (
    old.role = 'owner' AND old.deleted_at IS NULL AND (new.role IS DISTINCT FROM 'owner' OR new.deleted_at IS NOT NULL)
)
EXECUTE FUNCTION arbe.keep_an_owner();

-- houses: any admin may rename, only an owner may soft-delete (model §4).
CREATE OR REPLACE FUNCTION arbe.guard_houses() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Nested, not one AND: SQL does not promise to evaluate AND left to right,
    -- and house_role is not executable by trusted roles that skip this rule.
    IF NEW.deleted_at IS DISTINCT FROM OLD.deleted_at AND row_security_active(TG_RELID) THEN
        IF arbe.house_role(OLD.id) IS DISTINCT FROM 'owner' THEN
            RAISE EXCEPTION 'only an owner can delete a house' USING ERRCODE = '42501';
        END IF;
    END IF;
    RETURN NEW;
END
$$;

-- WHEN: a rename, or arbe.lock_house's write, never enters PL/pgSQL.
CREATE OR REPLACE TRIGGER houses_guard BEFORE UPDATE ON public.houses
FOR EACH ROW WHEN (old.deleted_at IS DISTINCT FROM new.deleted_at) EXECUTE FUNCTION arbe.guard_houses();

REVOKE ALL ON FUNCTION arbe.touch_updated_at(), arbe.stamp_inserted(), arbe.stamp_dated(), arbe.house_id_is_id(),
arbe.inherit_house_id(), arbe.fill_created_by(), arbe.creator_becomes_owner(), arbe.keep_immutable(),
arbe.guard_members(), arbe.guard_houses(), arbe.freeze_deleted(), arbe.limit_key_columns(),
arbe.retire_ownerless_house(), arbe.keep_an_owner() FROM PUBLIC, anon;
-- Reached only through arbe.keep_an_owner, which runs as the owner (ARB023).
REVOKE ALL ON FUNCTION arbe.assert_keeps_an_owner(uuid, uuid) FROM PUBLIC, anon, authenticated, service_role;
