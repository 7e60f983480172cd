-- 0004 downgrade: back to a plaintext value column. Refused while sealed
-- values exist: a downgrade must not write secrets in clear.

DO $$
DECLARE
    n bigint := (SELECT count(*) FROM arbe_private.secret_values);
BEGIN
    IF n > 0 THEN
        RAISE EXCEPTION '0004 downgrade: arbe_private.secret_values holds % sealed secret value(s), which it would have to write in clear', n
            USING HINT = 'DELETE FROM arbe_private.secret_values first (set them again after upgrading)';
    END IF;
END
$$;

-- The sealing layer reads the column that goes: drop it, and put back the two
-- functions as 0003's layer had them (plaintext, as that schema stored it).
DROP FUNCTION IF EXISTS arbe_private.reseal_secrets();
DROP FUNCTION IF EXISTS arbe_private.store_secret(uuid, text);
DROP FUNCTION IF EXISTS arbe_private.unseal_secret(uuid, bytea);
DROP FUNCTION IF EXISTS arbe_private.seal_secret(uuid, text);
DROP FUNCTION IF EXISTS arbe_private.vault_store(uuid, text);
DROP FUNCTION IF EXISTS arbe_private.vault_available();
DROP FUNCTION IF EXISTS arbe_private.secret_tag(bytea, uuid, bytea, bytea);
DROP FUNCTION IF EXISTS arbe_private.secret_keystream(bytea, bytea, integer);
DROP FUNCTION IF EXISTS arbe_private.secret_keys();
DROP FUNCTION IF EXISTS arbe_private.hmac_sha256(bytea, bytea);
DROP FUNCTION IF EXISTS arbe_private.xor_bytes(bytea, bytea);

ALTER TABLE arbe_private.secret_values DROP COLUMN sealed;
-- arbedb: ignore squawk:adding-required-field because the table is empty here (checked above)
ALTER TABLE arbe_private.secret_values ADD COLUMN value text NOT NULL;

CREATE OR REPLACE FUNCTION arbe.set_secret(secret_id uuid, value text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    secret_house uuid;
BEGIN
    SELECT s.house_id INTO secret_house FROM public.secrets AS s
    WHERE s.id = set_secret.secret_id AND s.deleted_at IS NULL;
    IF secret_house IS NULL OR arbe.role_rank(arbe.house_role(secret_house)) < arbe.role_rank('admin') THEN
        RAISE EXCEPTION 'only an admin or owner of the secret''s house can set it' USING ERRCODE = '42501';
    END IF;
    IF set_secret.value IS NULL THEN
        RAISE EXCEPTION 'a secret value cannot be null' USING ERRCODE = '22004';
    END IF;
    INSERT INTO arbe_private.secret_values AS v (secret_id, value) VALUES (set_secret.secret_id, set_secret.value)
    ON CONFLICT ON CONSTRAINT secret_values_pkey
    DO UPDATE SET value = excluded.value, updated_at = now();
END
$$;

CREATE OR REPLACE FUNCTION arbe.read_secret(secret_id uuid) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    RETURN (
    SELECT v.value
    FROM arbe_private.secret_values AS v
    JOIN public.secrets AS s ON s.id = v.secret_id
    JOIN public.houses AS h ON h.id = s.house_id
    WHERE v.secret_id = read_secret.secret_id AND s.deleted_at IS NULL AND h.deleted_at IS NULL);
END
$$;

REVOKE ALL ON FUNCTION arbe.set_secret(uuid, text), arbe.read_secret(uuid) FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION arbe.set_secret(uuid, text) TO authenticated;
GRANT EXECUTE ON FUNCTION arbe.read_secret(uuid) TO service_role;
