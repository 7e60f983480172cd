-- Step 4: Supabase Auth (GoTrue) migrates the auth schema when it first starts,
-- connected as supabase_auth_admin (search_path auth). Written from supabase/auth
-- migrations/*.up.sql: the shape those migrations leave for auth.users and the
-- claim functions, and the tables that reference users. The MFA, SSO/SAML,
-- flow-state, one-time-token and OAuth tables are left out (nothing of ours
-- touches them; docs/supabase.md).

-- auth.users as GoTrue leaves it (20210710035447_alter_users .. 20240214120130_add_is_anonymous_column).
ALTER TABLE auth.users RENAME COLUMN confirmed_at TO email_confirmed_at;
ALTER TABLE auth.users RENAME COLUMN email_change_token TO email_change_token_new;
ALTER TABLE auth.users
    ADD COLUMN phone text UNIQUE DEFAULT NULL,
    ADD COLUMN phone_confirmed_at timestamptz,
    ADD COLUMN phone_change text DEFAULT '',
    ADD COLUMN phone_change_token varchar(255) DEFAULT '',
    ADD COLUMN phone_change_sent_at timestamptz,
    ADD COLUMN email_change_token_current varchar(255) DEFAULT '',
    ADD COLUMN email_change_confirm_status smallint DEFAULT 0
        CHECK (email_change_confirm_status >= 0 AND email_change_confirm_status <= 2),
    ADD COLUMN banned_until timestamptz,
    ADD COLUMN reauthentication_token varchar(255) DEFAULT '',
    ADD COLUMN reauthentication_sent_at timestamptz,
    ADD COLUMN is_sso_user boolean NOT NULL DEFAULT false,
    ADD COLUMN deleted_at timestamptz,
    ADD COLUMN is_anonymous boolean NOT NULL DEFAULT false;
ALTER TABLE auth.users
    ADD COLUMN confirmed_at timestamptz GENERATED ALWAYS AS (least(email_confirmed_at, phone_confirmed_at)) STORED;
-- An email is unique among non-SSO users only (20221215195500).
ALTER TABLE auth.users DROP CONSTRAINT users_email_key;
CREATE UNIQUE INDEX users_email_partial_key ON auth.users (email) WHERE (is_sso_user = false);
DROP INDEX auth.users_instance_id_email_idx;
CREATE INDEX users_instance_id_email_idx ON auth.users (instance_id, lower(email));
CREATE INDEX users_is_anonymous_idx ON auth.users (is_anonymous);

-- Tables that cascade from a user (20210909172000, 20220811173540, 20231117164230 ...).
CREATE TABLE auth.identities (
    provider_id text NOT NULL,
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    identity_data jsonb NOT NULL,
    provider text NOT NULL,
    last_sign_in_at timestamptz,
    created_at timestamptz,
    updated_at timestamptz,
    email text GENERATED ALWAYS AS (lower(identity_data ->> 'email')) STORED,
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    CONSTRAINT identities_provider_id_provider_unique UNIQUE (provider_id, provider)
);
CREATE TABLE auth.sessions (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    created_at timestamptz,
    updated_at timestamptz
);
ALTER TABLE auth.refresh_tokens ADD COLUMN session_id uuid REFERENCES auth.sessions (id) ON DELETE CASCADE;

-- The claim readers as GoTrue leaves them (20220224000811, 20220531120530): they read
-- `request.jwt.claims` (and the older per-claim settings), with no SET search_path.
CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''),
                    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'))::uuid
$$;
CREATE OR REPLACE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('request.jwt.claim.role', true), ''),
                    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role'))::text
$$;
CREATE OR REPLACE FUNCTION auth.email() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('request.jwt.claim.email', true), ''),
                    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email'))::text
$$;
CREATE OR REPLACE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('request.jwt.claim', true), ''),
                    nullif(current_setting('request.jwt.claims', true), ''))::jsonb
$$;
COMMENT ON FUNCTION auth.uid() IS 'Deprecated. Use auth.jwt() -> ''sub'' instead.';
COMMENT ON FUNCTION auth.role() IS 'Deprecated. Use auth.jwt() -> ''role'' instead.';
COMMENT ON FUNCTION auth.email() IS 'Deprecated. Use auth.jwt() -> ''email'' instead.';

-- RLS on every auth table, and postgres may read (and re-grant reading) them
-- (20240612123726_enable_rls_update_grants).
DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN SELECT c.oid FROM pg_class c WHERE c.relnamespace = 'auth'::regnamespace AND c.relkind = 'r' LOOP
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('GRANT SELECT ON %s TO postgres WITH GRANT OPTION', t);
    END LOOP;
END
$$;
