-- 0004: secret values are sealed at rest (policies/52_secrets.sql seals and
-- unseals them with a key file outside the database; docs/decisions.md).
--
-- Why: a plaintext value in any table reaches whoever reads the cluster below
-- SQL grants: a REPLICATION role decodes every table from the WAL with its own
-- logical slot, and pg_basebackup copies the data files.
--
-- A migration cannot seal existing plaintext (the sealing functions are the
-- declarative layer's, applied after the revisions), and would not write it
-- back on downgrade either; so both directions refuse while values exist, with
-- the way out in the message. Not synced: no Electric shape changes.

DO $$
DECLARE
    n bigint := (SELECT count(*) FROM arbe_private.secret_values);
BEGIN
    IF n > 0 THEN
        RAISE EXCEPTION '0004: arbe_private.secret_values holds % plaintext secret value(s), which a migration cannot seal', n
            USING HINT = 'read them with arbe.read_secret as service_role, DELETE FROM arbe_private.secret_values, '
                         'upgrade, then set each again with arbe.set_secret';
    END IF;
END
$$;

-- The plaintext functions of 0002's layer would write a column that is gone;
-- `arbedb apply` re-declares the sealing ones right after the revisions.
-- arbedb: ignore squawk:ban-drop-function because the declarative layer re-creates both, same signature, in the same apply transaction: no client ever sees them missing
DROP FUNCTION IF EXISTS arbe.set_secret(uuid, text);
-- arbedb: ignore squawk:ban-drop-function because the declarative layer re-creates both, same signature, in the same apply transaction: no client ever sees them missing
DROP FUNCTION IF EXISTS arbe.read_secret(uuid);

-- arbedb: ignore squawk:ban-drop-column because only the owner's definer functions read arbe_private (re-declared in the same transaction), and the table is empty here (checked above)
ALTER TABLE arbe_private.secret_values DROP COLUMN value;
-- arbedb: ignore squawk:adding-required-field because the table is empty here (checked above)
-- 0x01: sealed here (1 version byte, 8 key id, 16 nonce, the ciphertext, 32 tag);
-- 0x02: kept in Supabase Vault (the Vault entry's 16-byte id).
ALTER TABLE arbe_private.secret_values ADD COLUMN sealed bytea NOT NULL
CONSTRAINT secret_values_sealed_format CHECK (
    (get_byte(sealed, 0) = 1 AND length(sealed) >= 57) OR (get_byte(sealed, 0) = 2 AND length(sealed) = 17)
);
COMMENT ON COLUMN arbe_private.secret_values.sealed
IS 'arbe_private.seal_secret''s output: 0x01 | key id | nonce | ciphertext | HMAC-SHA-256 tag, or 0x02 | Vault entry id';
