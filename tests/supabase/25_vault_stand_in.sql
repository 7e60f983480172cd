-- A stand-in for Supabase Vault (the supabase_vault extension every hosted
-- project has): its interface as this project uses it — vault.secrets with a
-- unique name, vault.create_secret, vault.update_secret, vault.decrypted_secrets,
-- and the postgres role's rights on them — and NOT its cryptography. Debian
-- packages no supabase_vault; the real one encrypts with a key held outside the
-- database. This one only reverses the text, so that tests can tell what Vault
-- holds from what it returns.
CREATE SCHEMA vault;
CREATE TABLE vault.secrets (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text UNIQUE,
    description text NOT NULL DEFAULT '',
    secret text NOT NULL,
    key_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE FUNCTION vault.create_secret(
    new_secret text, new_name text DEFAULT NULL, new_description text DEFAULT '', new_key_id uuid DEFAULT NULL
) RETURNS uuid
LANGUAGE sql AS $$
    INSERT INTO vault.secrets (name, description, secret, key_id)
    VALUES (new_name, new_description, reverse(new_secret), new_key_id) RETURNING id
$$;
CREATE FUNCTION vault.update_secret(
    secret_id uuid, new_secret text DEFAULT NULL, new_name text DEFAULT NULL, new_description text DEFAULT NULL,
    new_key_id uuid DEFAULT NULL
) RETURNS void
LANGUAGE sql AS $$
    UPDATE vault.secrets SET secret = coalesce(reverse(new_secret), secret), name = coalesce(new_name, name),
        description = coalesce(new_description, description), updated_at = now()
    WHERE id = secret_id
$$;
CREATE VIEW vault.decrypted_secrets AS
SELECT id, name, description, secret, reverse(secret) AS decrypted_secret, key_id, created_at, updated_at
FROM vault.secrets;
REVOKE ALL ON SCHEMA vault FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA vault FROM PUBLIC;
GRANT USAGE ON SCHEMA vault TO postgres;
GRANT SELECT, INSERT, UPDATE, DELETE ON vault.secrets, vault.decrypted_secrets TO postgres;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA vault TO postgres;
