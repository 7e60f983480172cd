-- 0002 schema v1 (SPEC §4): the nine house-scoped tables and the private
-- credential tables.
--
-- Electric: this revision creates every synced table; Electric (re)builds all
-- their shapes from scratch.
--
-- Conventions every table here follows, and why:
-- * house_id uuid NOT NULL on every table, houses included (house_id = id), so
--   each Electric shape is the literal `house_id = $1 AND deleted_at IS NULL`
--   with no join: shapes cannot join.
-- * A child never points at a parent in another house: the parent carries
--   UNIQUE (house_id, id) and the child references it with a composite FK on
--   (house_id, parent_id). Enforced by the database, not by a trigger that a
--   session could disable.
-- * deleted_at marks a soft delete; authenticated callers never hard-DELETE,
--   and every live-row index is partial on deleted_at IS NULL.
-- * Text with CHECK, never enums: Electric rejects enum comparisons in shapes.
-- * RLS is enabled (and forced) here, in the same transaction that creates the
--   table, so no table ever exists without it; the policies live in policies/.
-- * created_by / invited_by / accepted_by carry no FK to auth.users: they are
--   an audit trail and must not block deleting a user. members.user_id does.

CREATE SCHEMA IF NOT EXISTS arbe;
COMMENT ON SCHEMA arbe IS 'arbedb: membership, permission and credential functions';
-- Credential material lives here: no grant to anon or authenticated, never published.
CREATE SCHEMA IF NOT EXISTS arbe_private;
REVOKE ALL ON SCHEMA arbe_private FROM PUBLIC;
COMMENT ON SCHEMA arbe_private IS 'arbedb: token hashes, key hashes, secret values; service code only';

CREATE TABLE public.houses (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    house_id uuid NOT NULL,
    name text NOT NULL CHECK (btrim(name) <> ''),
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    CONSTRAINT houses_house_id_is_id CHECK (house_id = id)
);
COMMENT ON COLUMN public.houses.house_id IS 'always equal to id (set by trigger, checked) so houses shapes use the same WHERE';

CREATE TABLE public.members (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    house_id uuid NOT NULL REFERENCES public.houses (id),
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    role text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);

CREATE TABLE public.agents (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    house_id uuid NOT NULL REFERENCES public.houses (id),
    name text NOT NULL CHECK (btrim(name) <> ''),
    kind text NOT NULL,
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    CONSTRAINT agents_house_id_id_key UNIQUE (house_id, id)
);

CREATE TABLE public.environments (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    house_id uuid NOT NULL REFERENCES public.houses (id),
    name text NOT NULL CHECK (btrim(name) <> ''),
    kind text NOT NULL CHECK (kind IN ('local', 'remote')),
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    CONSTRAINT environments_house_id_id_key UNIQUE (house_id, id)
);

-- Transcripts live in durable streams; a thread row is metadata only.
CREATE TABLE public.threads (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    house_id uuid NOT NULL REFERENCES public.houses (id),
    agent_id uuid,
    environment_id uuid,
    kind text NOT NULL,
    status text NOT NULL,
    title text,
    usage jsonb NOT NULL DEFAULT '{}'::jsonb,
    config jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    CONSTRAINT threads_agent_same_house FOREIGN KEY (house_id, agent_id)
    REFERENCES public.agents (house_id, id),
    CONSTRAINT threads_environment_same_house FOREIGN KEY (house_id, environment_id)
    REFERENCES public.environments (house_id, id)
);

-- A config belongs to an agent, to an environment, or (both null) to the house.
CREATE TABLE public.configs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    house_id uuid NOT NULL REFERENCES public.houses (id),
    agent_id uuid,
    environment_id uuid,
    key text NOT NULL CHECK (btrim(key) <> ''),
    value jsonb NOT NULL DEFAULT 'null'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    CONSTRAINT configs_one_owner CHECK (agent_id IS NULL OR environment_id IS NULL),
    CONSTRAINT configs_agent_same_house FOREIGN KEY (house_id, agent_id)
    REFERENCES public.agents (house_id, id),
    CONSTRAINT configs_environment_same_house FOREIGN KEY (house_id, environment_id)
    REFERENCES public.environments (house_id, id)
);

-- Secret metadata; the value itself is in arbe_private.secret_values.
CREATE TABLE public.secrets (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    house_id uuid NOT NULL REFERENCES public.houses (id),
    environment_id uuid,
    name text NOT NULL CHECK (btrim(name) <> ''),
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    CONSTRAINT secrets_environment_same_house FOREIGN KEY (house_id, environment_id)
    REFERENCES public.environments (house_id, id)
);

-- Invite metadata; the token hash is in arbe_private.invite_tokens.
CREATE TABLE public.invites (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    house_id uuid NOT NULL REFERENCES public.houses (id),
    email text NOT NULL CHECK (position('@' IN email) > 1),
    role text NOT NULL CHECK (role IN ('admin', 'member')),
    invited_by uuid,
    expires_at timestamptz NOT NULL DEFAULT now() + interval '7 days',
    accepted_at timestamptz,
    accepted_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    CONSTRAINT invites_accepted_together CHECK ((accepted_at IS NULL) = (accepted_by IS NULL))
);

-- API key metadata; the key hash is in arbe_private.api_key_hashes.
CREATE TABLE public.api_keys (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    house_id uuid NOT NULL REFERENCES public.houses (id),
    agent_id uuid,
    name text NOT NULL CHECK (btrim(name) <> ''),
    prefix text NOT NULL,
    created_by uuid,
    expires_at timestamptz,
    last_used_at timestamptz,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    CONSTRAINT api_keys_prefix_key UNIQUE (prefix),
    CONSTRAINT api_keys_agent_same_house FOREIGN KEY (house_id, agent_id)
    REFERENCES public.agents (house_id, id)
);

-- Indexes. Each table gets the shape index: `house_id = $1 AND deleted_at IS NULL`
-- is exactly its predicate, so Electric's snapshot query and RLS-filtered reads
-- are index scans over live rows only.
CREATE INDEX houses_live_idx ON public.houses (house_id) WHERE deleted_at IS NULL;
CREATE INDEX members_house_live_idx ON public.members (house_id) WHERE deleted_at IS NULL;
CREATE INDEX agents_house_live_idx ON public.agents (house_id) WHERE deleted_at IS NULL;
CREATE INDEX environments_house_live_idx ON public.environments (house_id) WHERE deleted_at IS NULL;
CREATE INDEX threads_house_live_idx ON public.threads (house_id) WHERE deleted_at IS NULL;
CREATE INDEX configs_house_live_idx ON public.configs (house_id) WHERE deleted_at IS NULL;
CREATE INDEX secrets_house_live_idx ON public.secrets (house_id) WHERE deleted_at IS NULL;
CREATE INDEX invites_house_live_idx ON public.invites (house_id) WHERE deleted_at IS NULL;
CREATE INDEX api_keys_house_live_idx ON public.api_keys (house_id) WHERE deleted_at IS NULL;

-- The membership check: "which live houses is user U in, with what role" is one
-- index-only lookup; unique, so a user holds at most one live membership per house.
CREATE UNIQUE INDEX members_user_house_live_key ON public.members (user_id, house_id) INCLUDE (role)
WHERE deleted_at IS NULL;

-- One live config per key and owner; one live secret per name and environment.
CREATE UNIQUE INDEX configs_key_live_key ON public.configs (house_id, key, agent_id, environment_id)
NULLS NOT DISTINCT WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX secrets_name_live_key ON public.secrets (house_id, name, environment_id)
NULLS NOT DISTINCT WHERE deleted_at IS NULL;

-- Foreign-key look-ups from parent to children (trigger checks, cascading reads).
CREATE INDEX members_house_idx ON public.members (house_id);
CREATE INDEX threads_agent_idx ON public.threads (house_id, agent_id) WHERE agent_id IS NOT NULL;
CREATE INDEX threads_environment_idx ON public.threads (house_id, environment_id) WHERE environment_id IS NOT NULL;
CREATE INDEX configs_agent_idx ON public.configs (house_id, agent_id) WHERE agent_id IS NOT NULL;
CREATE INDEX configs_environment_idx ON public.configs (house_id, environment_id) WHERE environment_id IS NOT NULL;
CREATE INDEX secrets_environment_idx ON public.secrets (house_id, environment_id) WHERE environment_id IS NOT NULL;
CREATE INDEX api_keys_agent_idx ON public.api_keys (house_id, agent_id) WHERE agent_id IS NOT NULL;

-- FORCE as well: the tables' owner (the migrating role) is then held to the
-- policies too unless it is a superuser or BYPASSRLS, which the SECURITY
-- DEFINER functions' owner is on both plain PostgreSQL and Supabase.
ALTER TABLE public.houses ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE public.members ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE public.agents ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE public.environments ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE public.threads ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE public.configs ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE public.secrets ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE public.invites ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE public.api_keys ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;

-- Credential material. Only hashes for tokens and keys (SHA-256, compared in the
-- database); secret values as given, reachable only through arbe.read_secret.
CREATE TABLE arbe_private.invite_tokens (
    invite_id uuid PRIMARY KEY REFERENCES public.invites (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32)
);

CREATE TABLE arbe_private.api_key_hashes (
    api_key_id uuid PRIMARY KEY REFERENCES public.api_keys (id) ON DELETE CASCADE,
    key_hash bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32)
);

CREATE TABLE arbe_private.secret_values (
    secret_id uuid PRIMARY KEY REFERENCES public.secrets (id) ON DELETE CASCADE,
    value text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

REVOKE ALL ON ALL TABLES IN SCHEMA arbe_private FROM PUBLIC;
