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
-- The construction: HMAC-SHA-256 (RFC 2104) as the PRF; keys for encryption
-- and authentication derived from the file's 256-bit key; the value XORed with
-- the PRF's output in counter mode under a fresh 16-byte nonce; then an HMAC tag
-- over version, key id, nonce, the secret's id and the ciphertext
-- (encrypt-then-MAC, bound to its row so sealed values cannot be swapped).
--   sealed = 0x01 | key id (8) | nonce (16) | ciphertext | tag (32)
-- The PRF and the nonce come from pgcrypto's C functions where the database has
-- pgcrypto installed in schema extensions (Supabase) or public (a plain CREATE
-- EXTENSION), else from the PL/pgSQL construction below over PostgreSQL's own
-- sha256(): same bytes either way, chosen at call time (so installing or dropping
-- pgcrypto later needs nothing else). tests/test_secrets_at_rest.py checks both
-- against Python and against each other.
--
-- What the server logs (docs/decisions.md, "Secrets at rest"): key material,
-- raw or derived, and plaintext only ever pass through PL/pgSQL *simple
-- expressions* (assignments and RETURNs of one expression without a subquery),
-- which PostgreSQL evaluates without the executor: auto_explain, however it is
-- configured, never sees them, and they spill nothing to temp files. No SQL
-- function and no EXECUTE … USING carries them (SQL functions and one-shot plans
-- fold arguments into the logged plan, and print their parameters on 16+).
-- Statements that do run in the executor see ciphertext, ids and key ids only;
-- plan_cache_mode = force_generic_plan on the entry points keeps their
-- parameters (and those of Vault's own statements, called from here) out of
-- plans as well.
--
-- None of these helpers is executable by anyone but the owner: the definer
-- functions below are the only way in.

-- Replaced: a set_byte loop (quadratic, and secret-bearing statements in the executor).
-- arbedb: ignore squawk:ban-drop-function because only the owner's sealing functions called it, and none does now
DROP FUNCTION IF EXISTS arbe_private.xor_bytes(bytea, bytea);

-- The largest value set_secret accepts: a configuration value, a certificate or a
-- key fits; a file does not belong here. Refused in one line (SQLSTATE 22001).
CREATE OR REPLACE FUNCTION arbe_private.secret_max_bytes() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN 65536;

-- a XOR b (equal lengths), in linear time: bit strings XOR in C, and varbit_send
-- hands the bits back as bytes after its 4-byte length.
CREATE OR REPLACE FUNCTION arbe_private.xor_bits(a bytea, b bytea) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN pg_catalog.substr(pg_catalog.varbit_send(('x' || pg_catalog.encode(a, 'hex'))::pg_catalog.varbit
                                                    # ('x' || pg_catalog.encode(b, 'hex'))::pg_catalog.varbit), 5);
END
$$;

-- HMAC-SHA-256 from sha256(), for servers without pgcrypto.
CREATE OR REPLACE FUNCTION arbe_private.hmac_sha256(key bytea, message bytea) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    padded bytea := pg_catalog.decode(pg_catalog.rpad(pg_catalog.encode(
        CASE WHEN pg_catalog.length(key) > 64 THEN pg_catalog.sha256(key) ELSE key END, 'hex'), 128, '0'), 'hex');
BEGIN
    RETURN pg_catalog.sha256(arbe_private.xor_bits(padded, '\x5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c'::bytea)
        || pg_catalog.sha256(arbe_private.xor_bits(padded, '\x36363636363636363636363636363636363636363636363636363636363636363636363636363636363636363636363636363636363636363636363636363636'::bytea)
        || message));
END
$$;

-- Where pgcrypto is, among the schemas prf and random_nonce name statically
-- (a call through a computed name would need EXECUTE, whose plans log arguments).
CREATE OR REPLACE FUNCTION arbe_private.pgcrypto_schema() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT n.nspname::text FROM pg_catalog.pg_extension AS e JOIN pg_catalog.pg_namespace AS n ON n.oid = e.extnamespace
    WHERE e.extname = 'pgcrypto' AND n.nspname IN ('extensions', 'public')
$$;

-- HMAC-SHA-256 of message under key; via is pgcrypto_schema(), looked up once by the caller.
-- PL/pgSQL whose every branch is one RETURN: a simple expression, never in the executor.
CREATE OR REPLACE FUNCTION arbe_private.prf(key bytea, message bytea, via text) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF via = 'extensions' THEN
        RETURN extensions.hmac(message, key, 'sha256'::text);
    ELSIF via = 'public' THEN
        RETURN public.hmac(message, key, 'sha256'::text);
    END IF;
    RETURN arbe_private.hmac_sha256(key, message);
END
$$;

-- 16 random bytes: pgcrypto's gen_random_bytes, else SHA-256 over two
-- gen_random_uuid() (2 x 122 random bits) cut to 16 bytes.
CREATE OR REPLACE FUNCTION arbe_private.random_nonce() RETURNS bytea
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    via text := arbe_private.pgcrypto_schema();
BEGIN
    IF via = 'extensions' THEN
        RETURN extensions.gen_random_bytes(16);
    ELSIF via = 'public' THEN
        RETURN public.gen_random_bytes(16);
    END IF;
    RETURN pg_catalog.substr(pg_catalog.sha256(pg_catalog.uuid_send(pg_catalog.gen_random_uuid())
                                               || pg_catalog.uuid_send(pg_catalog.gen_random_uuid())), 1, 16);
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
    via text := arbe_private.pgcrypto_schema();
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
        key_id := pg_catalog.substr(arbe_private.prf(key, 'arbe secret key id'::bytea, via), 1, 8);
        current := setting_name = 'arbedb.secret_key_file';
        RETURN NEXT;
    END LOOP;
END
$$;

-- The PRF in counter mode, len bytes: one PRF call per 32-byte block, collected
-- in an array (appended in place) and joined once, so linear in len.
CREATE OR REPLACE FUNCTION arbe_private.secret_keystream(key bytea, nonce bytea, len integer) RETURNS bytea
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    via text := arbe_private.pgcrypto_schema();
    enc_key bytea := arbe_private.prf(key, 'arbe secret enc'::bytea, via);
    blocks text[] := '{}'::text[];
BEGIN
    FOR i IN 0 .. (len - 1) / 32 LOOP
        blocks := pg_catalog.array_append(blocks, pg_catalog.encode(arbe_private.prf(
            enc_key, nonce || pg_catalog.int4send(i), via), 'hex'));
    END LOOP;
    RETURN pg_catalog.substr(pg_catalog.decode(pg_catalog.array_to_string(blocks, ''), 'hex'), 1, len);
END
$$;

CREATE OR REPLACE FUNCTION arbe_private.secret_tag(key bytea, secret_id uuid, head bytea, ciphertext bytea)
RETURNS bytea
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    via text := arbe_private.pgcrypto_schema();
BEGIN
    RETURN arbe_private.prf(arbe_private.prf(key, 'arbe secret mac'::bytea, via),
                            head || pg_catalog.uuid_send(secret_id) || ciphertext, via);
END
$$;

-- Sealing and unsealing under a given key and nonce (the key path's core, and
-- what the tests run under both primitives to compare bytes).
CREATE OR REPLACE FUNCTION arbe_private.seal_with(key_id bytea, key bytea, nonce bytea, secret_id uuid, plain bytea)
RETURNS bytea
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    head bytea := '\x01'::bytea || key_id || nonce;
    ciphertext bytea := arbe_private.xor_bits(plain, arbe_private.secret_keystream(key, nonce, pg_catalog.length(plain)));
BEGIN
    RETURN head || ciphertext || arbe_private.secret_tag(key, secret_id, head, ciphertext);
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

-- Vault keeps '<secret id>:' || value, so that the binding to the secret sits
-- under Vault's own authenticated encryption; the row keeps 0x02 | the Vault
-- entry's id (16 bytes). The entry is created empty and then set: Vault's
-- create_secret inserts its argument in clear before encrypting it in a second
-- statement, which would leave the value in the WAL and in a dead row.
-- (Static calls, not EXECUTE … USING: a one-shot plan would carry the value.)
CREATE OR REPLACE FUNCTION arbe_private.vault_store(secret_id uuid, value text) RETURNS bytea
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    entry_name text := 'arbe_secret:' || secret_id::text;
    entry uuid;
    bound text := secret_id::text || ':' || value;
BEGIN
    SELECT s.id INTO entry FROM vault.secrets AS s WHERE s.name = entry_name;
    IF entry IS NULL THEN
        entry := vault.create_secret('', entry_name);
    END IF;
    PERFORM vault.update_secret(entry, bound);
    RETURN '\x02'::bytea || pg_catalog.uuid_send(entry);
END
$$;

CREATE OR REPLACE FUNCTION arbe_private.vault_fetch(secret_id uuid, sealed bytea) RETURNS text
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    entry_name text;
    value text;
    bound text := secret_id::text || ':';
BEGIN
    SELECT d.name, d.decrypted_secret INTO entry_name, value FROM vault.decrypted_secrets AS d
    WHERE d.id = pg_catalog.encode(pg_catalog.substr(sealed, 2, 16), 'hex')::uuid;
    IF value IS NULL THEN
        RAISE EXCEPTION 'secret % is kept in Supabase Vault, which has no entry for it', secret_id
            USING ERRCODE = '55000';
    END IF;
    IF pg_catalog.starts_with(value, bound) THEN
        RETURN pg_catalog.substr(value, pg_catalog.length(bound) + 1);
    END IF;
    -- Entries written before the binding: only the name (outside Vault's encryption) ties them.
    IF entry_name IS DISTINCT FROM 'arbe_secret:' || secret_id::text OR value ~ '^[0-9a-f-]{36}:' THEN
        RAISE EXCEPTION 'secret % fails its integrity check', secret_id USING ERRCODE = 'XX001';
    END IF;
    RETURN value;
END
$$;

CREATE OR REPLACE FUNCTION arbe_private.seal_secret(secret_id uuid, value text) RETURNS bytea
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k record;
    plain bytea := pg_catalog.convert_to(value, 'UTF8');
BEGIN
    IF pg_catalog.length(plain) > arbe_private.secret_max_bytes() THEN
        RAISE EXCEPTION 'secret % is not set: its value is % bytes, and the most a secret value may hold is % bytes',
            secret_id, pg_catalog.length(plain), arbe_private.secret_max_bytes() USING ERRCODE = '22001';
    END IF;
    IF arbe_private.vault_available() THEN
        RETURN arbe_private.vault_store(secret_id, value);
    END IF;
    SELECT * INTO k FROM arbe_private.secret_keys() AS s WHERE s.current;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'secret values cannot be stored: the server has no sealing key and no Supabase Vault'
            USING ERRCODE = '55000',
                  HINT = 'set arbedb.secret_key_file in postgresql.conf to a key file outside the data directory';
    END IF;
    RETURN arbe_private.seal_with(k.key_id, k.key, arbe_private.random_nonce(), secret_id, plain);
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
BEGIN
    IF pg_catalog.get_byte(sealed, 0) = 2 THEN
        RETURN arbe_private.vault_fetch(secret_id, sealed);
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
    RETURN pg_catalog.convert_from(arbe_private.xor_bits(ciphertext, arbe_private.secret_keystream(
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

-- The one writer of arbe_private.secret_values (set_secret, and loaders that run
-- as the owner). The value reaches seal_secret in a simple expression; the
-- INSERT sees only the sealed bytes.
CREATE OR REPLACE FUNCTION arbe_private.store_secret(secret_id uuid, value text) RETURNS void
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    sealed bytea := arbe_private.seal_secret(secret_id, value);
BEGIN
    INSERT INTO arbe_private.secret_values AS v (secret_id, sealed) VALUES (store_secret.secret_id, sealed)
    ON CONFLICT ON CONSTRAINT secret_values_pkey
    DO UPDATE SET sealed = excluded.sealed, updated_at = now();
END
$$;

-- Rotation, run by the owner once arbedb.secret_key_file names the new key and
-- arbedb.secret_previous_key_file the old one: up to batch_size values sealed
-- with another key are sealed again with the current one; returns how many.
-- Run it (autocommit) until it returns 0. Each call locks only the rows of its
-- batch, and skips rows another transaction holds (a concurrent set_secret, or
-- a second reseal): a rotation never holds the whole table. Only when every
-- stale row left is held elsewhere does it wait for them, so that 0 means none
-- is left under another key, never "the rest was busy".
-- arbedb: ignore squawk:ban-drop-function because reseal_secrets(integer DEFAULT 100) below answers the same call
DROP FUNCTION IF EXISTS arbe_private.reseal_secrets();
CREATE OR REPLACE FUNCTION arbe_private.reseal_secrets(batch_size integer DEFAULT 100) RETURNS bigint
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    current_id bytea := (SELECT s.key_id FROM arbe_private.secret_keys() AS s WHERE s.current);
    stale record;
    n bigint := 0::bigint;
BEGIN
    FOR stale IN
        SELECT v.secret_id, v.sealed FROM arbe_private.secret_values AS v
        WHERE pg_catalog.get_byte(v.sealed, 0) = 1 AND pg_catalog.substr(v.sealed, 2, 8) IS DISTINCT FROM current_id
        LIMIT batch_size
        FOR UPDATE SKIP LOCKED
    LOOP
        PERFORM arbe_private.reseal_one(stale.secret_id, stale.sealed);
        n := n + 1;
    END LOOP;
    IF n = 0 THEN
        FOR stale IN
            SELECT v.secret_id, v.sealed FROM arbe_private.secret_values AS v
            WHERE pg_catalog.get_byte(v.sealed, 0) = 1 AND pg_catalog.substr(v.sealed, 2, 8) IS DISTINCT FROM current_id
            LIMIT batch_size
            FOR UPDATE
        LOOP
            PERFORM arbe_private.reseal_one(stale.secret_id, stale.sealed);
            n := n + 1;
        END LOOP;
    END IF;
    RETURN n;
END
$$;

-- One row of a rotation, locked by the caller. The value passes from unsealing
-- to sealing inside one simple expression; the UPDATE sees sealed bytes only.
CREATE OR REPLACE FUNCTION arbe_private.reseal_one(secret_id uuid, sealed bytea) RETURNS void
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    resealed bytea := arbe_private.seal_secret(secret_id, arbe_private.unseal_secret(secret_id, sealed));
BEGIN
    UPDATE arbe_private.secret_values AS v SET sealed = resealed, updated_at = now() WHERE v.secret_id = reseal_one.secret_id;
END
$$;

REVOKE ALL ON FUNCTION arbe_private.secret_max_bytes(), arbe_private.xor_bits(bytea, bytea),
arbe_private.hmac_sha256(bytea, bytea), arbe_private.secret_keys(),
arbe_private.secret_keystream(bytea, bytea, integer),
arbe_private.secret_tag(bytea, uuid, bytea, bytea), arbe_private.seal_with(bytea, bytea, bytea, uuid, bytea),
arbe_private.seal_secret(uuid, text), arbe_private.vault_available(), arbe_private.vault_store(uuid, text),
arbe_private.vault_fetch(uuid, bytea), arbe_private.unseal_secret(uuid, bytea), arbe_private.store_secret(uuid, text),
arbe_private.secrets_sealable(), arbe_private.reseal_secrets(integer), arbe_private.reseal_one(uuid, bytea),
arbe_private.pgcrypto_schema(),
arbe_private.prf(bytea, bytea, text), arbe_private.random_nonce()
FROM PUBLIC;

CREATE OR REPLACE FUNCTION arbe.set_secret(secret_id uuid, value text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
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
SET plan_cache_mode = force_generic_plan
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
