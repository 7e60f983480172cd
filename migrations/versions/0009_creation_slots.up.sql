-- 0009: one row per (table, user or house) that the creation limits
-- (triggers/45_limits.sql) write before they count, so two creations for the
-- same user or house queue on it.
--
-- Why a table: the limits used to take pg_advisory_xact_lock on a hash of
-- '<table>:<id>'. Every role may call that function and compute the key, so a
-- signed-in user in no house could hold another user's or house's key in an
-- open transaction and stall their house, invite and key creation. A row of
-- arbe_private is written only by the owner (the limit trigger is SECURITY
-- DEFINER), and no caller role can lock or write it.
--
-- Not a synced table: Electric is not affected.

CREATE TABLE arbe_private.creation_slots (
    scope text NOT NULL,
    id uuid NOT NULL,
    PRIMARY KEY (scope, id)
);
COMMENT ON TABLE arbe_private.creation_slots
IS 'rows the creation limits write to serialise creations for one user or house; no data';
-- Closed like the rest of arbe_private: no privilege for any caller role
-- (policies/00_privileges.sql revokes every table of the schema) and RLS with no
-- policy, forced. Enabled here with the table rather than in
-- policies/01_private_schema.sql: the slots hold no data a caller could read, so
-- rls-test's property has nothing to see if it were off; tests/test_creation_slots.py
-- is what checks that no caller can lock or write a slot.
ALTER TABLE arbe_private.creation_slots ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
