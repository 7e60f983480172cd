-- 0002 downgrade: drop the two schemas, then the tables (children first).
-- Electric: every synced table goes; all shapes are dropped.
-- arbe is dropped with CASCADE first because the declarative layer (policies/,
-- triggers/) puts its functions there, and the policies and triggers on the
-- tables depend on them; nothing else may live in arbe or arbe_private.

DROP SCHEMA arbe CASCADE;
DROP SCHEMA arbe_private CASCADE;
DROP TABLE public.api_keys;
DROP TABLE public.invites;
DROP TABLE public.secrets;
DROP TABLE public.configs;
DROP TABLE public.threads;
DROP TABLE public.environments;
DROP TABLE public.agents;
DROP TABLE public.members;
DROP TABLE public.houses;
