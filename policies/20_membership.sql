-- Membership: which live houses the caller belongs to, and with what role.
--
-- All three read members and houses with the owner's rights (SECURITY DEFINER):
-- a policy on members that queried members under the caller's own RLS would
-- recurse. search_path = pg_catalog, pg_temp so no object the caller creates can shadow ours.

-- Rank of a house role: owner > admin > member; unknown roles rank below all.
-- No SET search_path: it references no object, and without the SET clause
-- PostgreSQL can inline it into the queries that call it.
CREATE OR REPLACE FUNCTION arbe.role_rank(role text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE role WHEN 'owner' THEN 3 WHEN 'admin' THEN 2 WHEN 'member' THEN 1 ELSE 0 END
$$;

-- arbe.caller_house_ids(min_role): the live houses where the caller holds a live
-- membership of at least min_role. Policies use it as
--     house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('member')))
-- The uncorrelated ARRAY(sub-select) is an InitPlan: evaluated once per
-- statement, not once per row, and `= ANY(array)` lets the (house_id) WHERE
-- deleted_at IS NULL index serve the scan. `house_id IN (SELECT arbe.caller_house_ids())`
-- can instead plan as a hashed subplan over a sequential scan, far slower for a
-- caller in few houses (measured in bench/rls_overhead.py).
-- PL/pgSQL rather than SQL: PL/pgSQL keeps the query's plan for the session,
-- while a non-inlined SQL function re-plans its body in every statement, which
-- measured three times slower here, on every RLS-gated query.
-- House liveness comes from members.house_deleted_at (a copy kept by
-- triggers/25_membership_liveness.sql), so this is one index-only scan of
-- members_caller_live_idx: reading houses.deleted_at instead cost one houses
-- probe per membership, most of RLS's cost for a caller in 100 houses.
CREATE OR REPLACE FUNCTION arbe.caller_house_ids(min_role text DEFAULT 'member') RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER
ROWS 10
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT m.house_id
    FROM public.members AS m
    WHERE m.user_id = arbe.caller_id()
      AND m.deleted_at IS NULL
      AND m.house_deleted_at IS NULL
      AND arbe.role_rank(m.role) >= arbe.role_rank(min_role);
END
$$;

-- The helpers below are PL/pgSQL too, for caller_house_ids' reason: a SECURITY
-- DEFINER SQL function is never inlined and, before PostgreSQL 18, re-plans its
-- body on every call; guards call them on every write. PL/pgSQL keeps the plan
-- for the session: 3× faster on 15 (bench/function_language.py), even on 18.

-- model §4: the caller's role in a live house, or NULL.
CREATE OR REPLACE FUNCTION arbe.house_role(house_id uuid) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN (
    SELECT m.role
    FROM public.members AS m
    WHERE m.house_id = house_role.house_id
      AND m.user_id = arbe.caller_id()
      AND m.deleted_at IS NULL
      AND m.house_deleted_at IS NULL);
END
$$;

-- model §4: true when the caller has a live membership in a live house.
CREATE OR REPLACE FUNCTION arbe.is_house_member(house_id uuid) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN arbe.house_role(is_house_member.house_id) IS NOT NULL;
END
$$;

-- Whether a house *the caller created* has any membership row, live or
-- soft-deleted; false for every other id (another's house, an unknown id, or
-- the house the caller's INSERT is writing right now, which is not in the table
-- yet). Used only by houses_select, so a creator sees their house during its own
-- INSERT … RETURNING (before the AFTER trigger makes them its owner). It answers
-- about the caller's own creations only: called directly with any other house's
-- id it says false, the same as for an id that does not exist, so it cannot
-- tell whether a house exists or has members.
CREATE OR REPLACE FUNCTION arbe.created_house_has_members(house_id uuid) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN (SELECT EXISTS (
        SELECT FROM public.houses AS h
        JOIN public.members AS m ON m.house_id = h.id
        WHERE h.id = created_house_has_members.house_id AND h.created_by = arbe.caller_id()));
END
$$;

-- Executable by authenticated only (model §4). Policies run as the caller, so the
-- caller needs EXECUTE on what they call; anon never reaches a policy because it
-- holds no table privilege at all.
REVOKE ALL ON FUNCTION arbe.role_rank(text), arbe.caller_house_ids(text), arbe.is_house_member(uuid),
arbe.house_role(uuid), arbe.created_house_has_members(uuid) FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION arbe.role_rank(text), arbe.caller_house_ids(text), arbe.is_house_member(uuid),
arbe.house_role(uuid), arbe.created_house_has_members(uuid) TO authenticated;
