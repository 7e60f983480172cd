-- 0002 downgrade: drop the tables (children first) and the two schemas.
-- Electric: every synced table goes; all shapes are dropped.
-- arbe and arbe_private are dropped with CASCADE because the declarative layer
-- (policies/, triggers/) puts its functions there; nothing else may live in them.

DROP TABLE arbe_private.secret_values;
DROP TABLE arbe_private.api_key_hashes;
DROP TABLE arbe_private.invite_tokens;
DROP TABLE public.api_keys;
DROP TABLE public.invites;
DROP TABLE public.secrets;
DROP TABLE public.configs;
DROP TABLE public.threads;
DROP TABLE public.environments;
DROP TABLE public.agents;
DROP TABLE public.members;
DROP TABLE public.houses;
DROP SCHEMA arbe_private CASCADE;
DROP SCHEMA arbe CASCADE;
