-- Secret values (model §4): written by admin+ of the secret's house, read only by
-- service_role (the server that injects them into an environment). The value
-- never sits in a public table, so neither RLS reads nor Electric's publication
-- can carry it; and it is sealed before it is stored, so neither can anything
-- that reads the cluster below the SQL layer: a REPLICATION role decoding the
-- WAL with its own logical slot (test_decoding decodes every table, whatever
-- the grants), pg_basebackup, a copied data directory or a backup.
--
-- The sealing key is never in the database: it is a file outside the data
-- directory (so pg_basebackup does not copy it), named by the setting
-- arbedb.secret_key_file in the server's configuration file, and read at call
-- time by the owner's definer path. The setting is read from the configuration
-- files themselves (pg_file_settings), never from the session: a SET, ALTER
-- ROLE / DATABASE SET or connection option is not consulted, so no caller can
-- choose the key or make the owner probe other files (and the catalog ones live
-- in pg_db_role_setting, i.e. in the database). Key lifecycle: docs/decisions.md.
--
-- The construction, from PostgreSQL's built-in sha256() so that it runs on every
-- server (the PostgreSQL 18 build the suite also runs on has no pgcrypto):
-- HMAC-SHA-256 (RFC 2104) as the PRF; keys for encryption and authentication
-- derived from the file's 256-bit key; the value XORed with the PRF's output in
-- counter mode under a fresh 128-bit nonce; then an HMAC tag over version, key
-- id, nonce, the secret's id and the ciphertext (encrypt-then-MAC, bound to its
-- row so sealed values cannot be swapped between secrets).
--   sealed = 0x01 | key id (8) | nonce (16) | ciphertext | tag (32)
-- tests/test_secrets_at_rest.py checks it byte for byte against Python's hmac.
--
-- None of these helpers is executable by anyone but the owner: the definer
-- functions below are the only way in. PL/pgSQL, not SQL, even for one
-- expression: it keeps its plans for the session, where an SQL function called
-- per block would be planned again at each call before PostgreSQL 18.

-- a XOR b (equal lengths). A plain loop: 6x faster than any set-based form tried.
CREATE OR REPLACE FUNCTION arbe_private.xor_bytes(a bytea, b bytea) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result bytea := a;
BEGIN
    FOR i IN 0 .. pg_catalog.length(a) - 1 LOOP
        result := pg_catalog.set_byte(result, i, pg_catalog.get_byte(a, i) # pg_catalog.get_byte(b, i));
    END LOOP;
    RETURN result;
END
$$;

CREATE OR REPLACE FUNCTION arbe_private.hmac_sha256(key bytea, message bytea) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN (SELECT pg_catalog.sha256(arbe_private.xor_bytes(k, pg_catalog.decode(pg_catalog.repeat('5c', 64), 'hex'))
            || pg_catalog.sha256(arbe_private.xor_bytes(k, pg_catalog.decode(pg_catalog.repeat('36', 64), 'hex'))
            || message))
        FROM (SELECT pg_catalog.rpad(pg_catalog.encode(
            CASE WHEN pg_catalog.length(key) > 64 THEN pg_catalog.sha256(key) ELSE key END, 'hex'), 128, '0') AS hex) AS p,
            LATERAL (SELECT pg_catalog.decode(p.hex, 'hex') AS k) AS padded);
END
$$;

-- The server's sealing keys: the current one, and during a rotation the
-- previous one (arbedb.secret_previous_key_file), each with its 8-byte id.
CREATE OR REPLACE FUNCTION arbe_private.secret_keys() RETURNS TABLE (key_id bytea, key bytea, current boolean)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    setting_name text;
    path text;
    hex text;
BEGIN
    IF NOT (pg_catalog.has_table_privilege('pg_catalog.pg_file_settings', 'SELECT')
            AND pg_catalog.has_function_privilege('pg_catalog.pg_read_file(text)', 'EXECUTE')) THEN
        -- As on Supabase, where the postgres role reads no server file: Vault is the way there.
        RAISE EXCEPTION 'the sealing key cannot be read: % may not read the server''s files', current_user
            USING ERRCODE = '55000',
                  HINT = 'use a superuser, or grant pg_read_server_files, EXECUTE on pg_read_file(text) and SELECT '
                         'on pg_file_settings to the role that owns the arbe functions';
    END IF;
    -- What the configuration files say, re-read now (one parse of them per call,
    -- about a millisecond: bench/secret_sealing.py); a session's SET is not consulted.
    FOR setting_name, path IN
        SELECT f.name, f.setting FROM pg_catalog.pg_file_settings AS f
        WHERE f.name IN ('arbedb.secret_key_file', 'arbedb.secret_previous_key_file')
          AND f.applied AND f.error IS NULL AND f.setting <> ''
    LOOP
        -- Inside the data directory, pg_basebackup and every copy of it would carry the key.
        IF path !~ '^/' OR path LIKE pg_catalog.current_setting('data_directory') || '/%' THEN
            RAISE EXCEPTION '% must be an absolute path outside the data directory', setting_name
                USING ERRCODE = '22023';
        END IF;
        hex := pg_catalog.btrim(pg_catalog.pg_read_file(path), E' \n\r\t');
        IF hex !~ '^[0-9a-f]{64}$' THEN
            -- Says nothing of the content: an error message must not leak the key.
            RAISE EXCEPTION 'the file % names is not a secret key', setting_name
                USING ERRCODE = '22023', HINT = 'it holds 64 lower-case hex digits: openssl rand -hex 32';
        END IF;
        key := pg_catalog.decode(hex, 'hex');
        key_id := pg_catalog.substr(arbe_private.hmac_sha256(key, 'arbe secret key id'::bytea), 1, 8);
        current := setting_name = 'arbedb.secret_key_file';
        RETURN NEXT;
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION arbe_private.secret_keystream(key bytea, nonce bytea, len integer) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN (SELECT pg_catalog.substr(coalesce(pg_catalog.string_agg(arbe_private.hmac_sha256(
            enc.key, nonce || pg_catalog.int4send(i)), ''::bytea ORDER BY i), ''::bytea), 1, len)
        FROM (SELECT arbe_private.hmac_sha256(key, 'arbe secret enc'::bytea) AS key) AS enc,
            pg_catalog.generate_series(0, (len - 1) / 32) AS i);
END
$$;

CREATE OR REPLACE FUNCTION arbe_private.secret_tag(key bytea, secret_id uuid, head bytea, ciphertext bytea)
RETURNS bytea
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN (SELECT arbe_private.hmac_sha256(arbe_private.hmac_sha256(key, 'arbe secret mac'::bytea),
                                        head || pg_catalog.uuid_send(secret_id) || ciphertext));
END
$$;

-- Supabase Vault (the supabase_vault extension), where the database has it: its
-- key is the platform's, outside the database, and the postgres role may use it.
CREATE OR REPLACE FUNCTION arbe_private.vault_available() RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.to_regprocedure('vault.create_secret(text, text, text, uuid)') IS NOT NULL
        AND pg_catalog.to_regprocedure('vault.update_secret(uuid, text, text, text, uuid)') IS NOT NULL
        AND pg_catalog.to_regclass('vault.decrypted_secrets') IS NOT NULL
$$;

-- Vault keeps the value; the row keeps 0x02 | the Vault secret's id (16 bytes).
CREATE OR REPLACE FUNCTION arbe_private.vault_store(secret_id uuid, value text) RETURNS bytea
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    entry_name text := 'arbe_secret:' || secret_id::text;
    entry uuid;
BEGIN
    EXECUTE 'SELECT s.id FROM vault.secrets AS s WHERE s.name = $1' INTO entry USING entry_name;
    IF entry IS NULL THEN
        EXECUTE 'SELECT vault.create_secret($1, $2)' INTO entry USING value, entry_name;
    ELSE
        EXECUTE 'SELECT vault.update_secret($1, $2)' USING entry, value;
    END IF;
    RETURN '\x02'::bytea || pg_catalog.uuid_send(entry);
END
$$;

CREATE OR REPLACE FUNCTION arbe_private.seal_secret(secret_id uuid, value text) RETURNS bytea
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k record;
    plain bytea := pg_catalog.convert_to(value, 'UTF8');
    head bytea;
    ciphertext bytea;
BEGIN
    IF arbe_private.vault_available() THEN
        RETURN arbe_private.vault_store(secret_id, value);
    END IF;
    SELECT * INTO k FROM arbe_private.secret_keys() AS s WHERE s.current;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'secret values cannot be stored: the server has no sealing key and no Supabase Vault'
            USING ERRCODE = '55000',
                  HINT = 'set arbedb.secret_key_file in postgresql.conf to a key file outside the data directory';
    END IF;
    head := '\x01'::bytea || k.key_id || pg_catalog.uuid_send(pg_catalog.gen_random_uuid());
    ciphertext := arbe_private.xor_bytes(plain, arbe_private.secret_keystream(k.key, pg_catalog.substr(head, 10),
                                                                              pg_catalog.length(plain)));
    RETURN head || ciphertext || arbe_private.secret_tag(k.key, secret_id, head, ciphertext);
END
$$;

CREATE OR REPLACE FUNCTION arbe_private.unseal_secret(secret_id uuid, sealed bytea) RETURNS text
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k record;
    head bytea := pg_catalog.substr(sealed, 1, 25);
    ciphertext bytea;
    value text;
BEGIN
    IF pg_catalog.get_byte(sealed, 0) = 2 THEN
        EXECUTE 'SELECT d.decrypted_secret FROM vault.decrypted_secrets AS d WHERE d.id = $1' INTO value
            USING pg_catalog.encode(pg_catalog.substr(sealed, 2, 16), 'hex')::uuid;
        IF value IS NULL THEN
            RAISE EXCEPTION 'secret % is kept in Supabase Vault, which has no entry for it', secret_id
                USING ERRCODE = '55000';
        END IF;
        RETURN value;
    END IF;
    ciphertext := pg_catalog.substr(sealed, 26, pg_catalog.length(sealed) - 57);
    SELECT * INTO k FROM arbe_private.secret_keys() AS s WHERE s.key_id = pg_catalog.substr(head, 2, 8);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'secret % is sealed with key %, which the server does not have', secret_id,
            pg_catalog.encode(pg_catalog.substr(head, 2, 8), 'hex')
            USING ERRCODE = '55000', HINT = 'during a rotation, arbedb.secret_previous_key_file names the old key';
    END IF;
    IF arbe_private.secret_tag(k.key, secret_id, head, ciphertext)
        IS DISTINCT FROM pg_catalog.substr(sealed, pg_catalog.length(sealed) - 31) THEN
        RAISE EXCEPTION 'secret % fails its integrity check', secret_id USING ERRCODE = 'XX001';
    END IF;
    RETURN pg_catalog.convert_from(arbe_private.xor_bytes(ciphertext, arbe_private.secret_keystream(
        k.key, pg_catalog.substr(head, 10), pg_catalog.length(ciphertext))), 'UTF8');
END
$$;

-- Whether this server can seal (and so store) secret values at all; rls-test's
-- model asks it, since set_secret refuses everyone where it cannot.
CREATE OR REPLACE FUNCTION arbe_private.secrets_sealable() RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN arbe_private.vault_available() OR EXISTS (SELECT FROM arbe_private.secret_keys() AS s WHERE s.current);
EXCEPTION WHEN object_not_in_prerequisite_state OR insufficient_privilege OR invalid_parameter_value
    OR undefined_file THEN
    RETURN false;  -- no right to read the file, no key in it, or no file
END
$$;

-- The one writer of arbe_private.secret_values (set_secret, and loaders that run as the owner).
CREATE OR REPLACE FUNCTION arbe_private.store_secret(secret_id uuid, value text) RETURNS void
LANGUAGE sql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO arbe_private.secret_values AS v (secret_id, sealed)
    VALUES (store_secret.secret_id, arbe_private.seal_secret(store_secret.secret_id, store_secret.value))
    ON CONFLICT ON CONSTRAINT secret_values_pkey
    DO UPDATE SET sealed = excluded.sealed, updated_at = now()
$$;

-- Rotation, run by the owner once arbedb.secret_key_file names the new key and
-- arbedb.secret_previous_key_file the old one: every value sealed with another
-- key is sealed again with the current one. Returns how many.
CREATE OR REPLACE FUNCTION arbe_private.reseal_secrets() RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH current_key AS (SELECT s.key_id FROM arbe_private.secret_keys() AS s WHERE s.current),
    stale AS (
        SELECT v.secret_id, arbe_private.unseal_secret(v.secret_id, v.sealed) AS value
        FROM arbe_private.secret_values AS v
        WHERE pg_catalog.get_byte(v.sealed, 0) = 1
            AND pg_catalog.substr(v.sealed, 2, 8) IS DISTINCT FROM (SELECT c.key_id FROM current_key AS c)
        FOR UPDATE
    ),
    resealed AS (
        UPDATE arbe_private.secret_values AS v
        SET sealed = arbe_private.seal_secret(v.secret_id, stale.value), updated_at = now()
        FROM stale WHERE v.secret_id = stale.secret_id
        RETURNING 1
    )
    SELECT count(*) FROM resealed
$$;

REVOKE ALL ON FUNCTION arbe_private.xor_bytes(bytea, bytea), arbe_private.hmac_sha256(bytea, bytea),
arbe_private.secret_keys(), arbe_private.secret_keystream(bytea, bytea, integer),
arbe_private.secret_tag(bytea, uuid, bytea, bytea), arbe_private.seal_secret(uuid, text),
arbe_private.vault_available(), arbe_private.vault_store(uuid, text),
arbe_private.unseal_secret(uuid, bytea), arbe_private.store_secret(uuid, text), arbe_private.secrets_sealable(),
arbe_private.reseal_secrets() FROM PUBLIC;

CREATE OR REPLACE FUNCTION arbe.set_secret(secret_id uuid, value text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    secret_house uuid;
BEGIN
    SELECT s.house_id INTO secret_house FROM public.secrets AS s
    WHERE s.id = set_secret.secret_id AND s.deleted_at IS NULL;
    -- An unknown secret and a secret of another house get the same answer.
    IF secret_house IS NULL OR arbe.role_rank(arbe.house_role(secret_house)) < arbe.role_rank('admin') THEN
        RAISE EXCEPTION 'only an admin or owner of the secret''s house can set it' USING ERRCODE = '42501';
    END IF;
    IF set_secret.value IS NULL THEN
        RAISE EXCEPTION 'a secret value cannot be null' USING ERRCODE = '22004';
    END IF;
    PERFORM arbe_private.store_secret(set_secret.secret_id, set_secret.value);
END
$$;

-- PL/pgSQL: server code reads secrets often, and a SECURITY DEFINER SQL function
-- would re-plan this join on every call before PostgreSQL 18.
CREATE OR REPLACE FUNCTION arbe.read_secret(secret_id uuid) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN (
    SELECT arbe_private.unseal_secret(v.secret_id, v.sealed)
    FROM arbe_private.secret_values AS v
    JOIN public.secrets AS s ON s.id = v.secret_id
    JOIN public.houses AS h ON h.id = s.house_id
    WHERE v.secret_id = read_secret.secret_id AND s.deleted_at IS NULL AND h.deleted_at IS NULL);
END
$$;

REVOKE ALL ON FUNCTION arbe.set_secret(uuid, text), arbe.read_secret(uuid) FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION arbe.set_secret(uuid, text) TO authenticated;
GRANT EXECUTE ON FUNCTION arbe.read_secret(uuid) TO service_role;
