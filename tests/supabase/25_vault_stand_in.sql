-- A stand-in for Supabase Vault (supabase_vault 0.3.1, the extension every hosted
-- project has), where Debian packages none. Written from the extension's own
-- sql/supabase_vault--0.3.0.sql (0.3.1 changes no SQL) and the grants a hosted
-- project shows. Reproduced, because the project's Vault path depends on them:
-- - vault.secrets with its columns, `nonce` included, and names unique through
--   the partial unique index secrets_name_idx (WHERE name IS NOT NULL);
-- - create_secret INSERTs the value as given and then UPDATEs the row with the
--   ciphertext, in two statements: the value reaches the WAL and a dead row;
-- - update_secret of an unknown id is a silent no-op;
-- - both are SECURITY DEFINER, owned by the role running this file
--   (supabase_admin in tests/supabase_fixture.py), with an empty search_path;
-- - the ciphertext is bound to its row's id (the AEAD's additional data): a
--   value copied into another row fails to decrypt, and reading the view fails;
-- - postgres: USAGE on the schema; SELECT, DELETE, TRUNCATE, REFERENCES on
--   vault.secrets and vault.decrypted_secrets; EXECUTE on create_secret,
--   update_secret and _crypto_aead_det_decrypt; all WITH GRANT OPTION, and no
--   INSERT or UPDATE on vault.secrets. service_role: USAGE, SELECT, DELETE and
--   the same three EXECUTEs.
-- Not reproduced: the cryptography. _crypto_aead_det_encrypt here is a SHA-256
-- tag over (context, additional data, nonce, message) followed by the message's
-- hex digits reversed: enough for a test to tell what Vault holds from what it
-- returns, and to see a moved value fail; not a cipher.
CREATE SCHEMA vault;

CREATE FUNCTION vault._crypto_aead_det_encrypt(message bytea, additional bytea, key_id bigint,
                                               context bytea = 'pgsodium', nonce bytea = NULL) RETURNS bytea
LANGUAGE sql IMMUTABLE SET search_path = '' AS $$
    SELECT pg_catalog.sha256(context || additional || coalesce(nonce, '') || message)
        || pg_catalog.decode(pg_catalog.reverse(pg_catalog.encode(message, 'hex')), 'hex')
$$;

CREATE FUNCTION vault._crypto_aead_det_decrypt(message bytea, additional bytea, key_id bigint,
                                               context bytea = 'pgsodium', nonce bytea = NULL) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE SET search_path = '' AS $$
DECLARE
    plain bytea := pg_catalog.decode(pg_catalog.reverse(pg_catalog.encode(pg_catalog.substr(message, 33), 'hex')), 'hex');
BEGIN
    IF pg_catalog.substr(message, 1, 32) <> pg_catalog.sha256(context || additional || coalesce(nonce, '') || plain) THEN
        RAISE EXCEPTION 'pgsodium_crypto_aead_det_decrypt_by_id: invalid ciphertext';
    END IF;
    RETURN plain;
END
$$;

CREATE FUNCTION vault._crypto_aead_det_noncegen() RETURNS bytea
LANGUAGE sql VOLATILE SET search_path = '' AS $$ SELECT pg_catalog.uuid_send(pg_catalog.gen_random_uuid()) $$;

CREATE TABLE vault.secrets (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text,
    description text NOT NULL DEFAULT '',
    secret text NOT NULL,
    key_id uuid,
    nonce bytea DEFAULT vault._crypto_aead_det_noncegen(),
    created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE UNIQUE INDEX secrets_name_idx ON vault.secrets USING btree (name) WHERE name IS NOT NULL;

CREATE VIEW vault.decrypted_secrets AS
SELECT s.id, s.name, s.description, s.secret,
    convert_from(vault._crypto_aead_det_decrypt(message := decode(s.secret, 'base64'::text),
        additional := convert_to(s.id::text, 'utf8'), key_id := 0, context := 'pgsodium'::bytea, nonce := s.nonce),
        'utf8'::name) AS decrypted_secret,
    s.key_id, s.nonce, s.created_at, s.updated_at
FROM vault.secrets s;

CREATE FUNCTION vault.create_secret(new_secret text, new_name text = NULL, new_description text = '',
                                    new_key_id uuid = NULL) RETURNS uuid
SECURITY DEFINER LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
    rec record;
BEGIN
    INSERT INTO vault.secrets (secret, name, description) VALUES (new_secret, new_name, new_description)
    RETURNING * INTO rec;
    UPDATE vault.secrets s
    SET secret = encode(vault._crypto_aead_det_encrypt(message := convert_to(rec.secret, 'utf8'),
        additional := convert_to(s.id::text, 'utf8'), key_id := 0, context := 'pgsodium'::bytea, nonce := rec.nonce),
        'base64')
    WHERE id = rec.id;
    RETURN rec.id;
END
$$;

CREATE FUNCTION vault.update_secret(secret_id uuid, new_secret text = NULL, new_name text = NULL,
                                    new_description text = NULL, new_key_id uuid = NULL) RETURNS void
SECURITY DEFINER LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
    UPDATE vault.secrets s
    SET secret = CASE WHEN new_secret IS NULL THEN s.secret
                      ELSE encode(vault._crypto_aead_det_encrypt(message := convert_to(new_secret, 'utf8'),
                          additional := convert_to(s.id::text, 'utf8'), key_id := 0, context := 'pgsodium'::bytea,
                          nonce := s.nonce), 'base64') END,
        name = coalesce(new_name, s.name),
        description = coalesce(new_description, s.description),
        updated_at = now()
    WHERE s.id = secret_id;
END
$$;

REVOKE ALL ON SCHEMA vault FROM PUBLIC;
REVOKE ALL ON FUNCTION vault._crypto_aead_det_encrypt, vault._crypto_aead_det_decrypt, vault._crypto_aead_det_noncegen,
    vault.create_secret, vault.update_secret FROM PUBLIC;
GRANT USAGE ON SCHEMA vault TO postgres WITH GRANT OPTION;
GRANT SELECT, DELETE, TRUNCATE, REFERENCES ON vault.secrets, vault.decrypted_secrets TO postgres WITH GRANT OPTION;
GRANT EXECUTE ON FUNCTION vault.create_secret, vault.update_secret, vault._crypto_aead_det_decrypt
    TO postgres WITH GRANT OPTION;
GRANT USAGE ON SCHEMA vault TO service_role;
GRANT SELECT, DELETE ON vault.secrets, vault.decrypted_secrets TO service_role;
GRANT EXECUTE ON FUNCTION vault.create_secret, vault.update_secret, vault._crypto_aead_det_decrypt TO service_role;
