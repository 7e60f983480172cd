-- 0007: api_keys.house_deleted_at and api_keys.agent_deleted_at mirror the
-- deleted_at of the key's house and of its agent (kept by
-- triggers/26_key_liveness.sql, whoever writes).
--
-- Why a copy: every statement an agent key runs re-checks that the key may act
-- (arbe.live_api_key). With liveness only on houses and agents, that check was
-- three primary-key probes (api_keys, houses, agents) per statement; with the
-- copies it is one: the key's own row says everything (bench/rls_overhead.py,
-- README "Agents and keys").
--
-- Electric: api_keys gains two columns. Neither is in the api_keys shape's
-- columns (electric/shapes.toml), so no client sees them; a house's or an
-- agent's soft delete or restore now also streams an UPDATE of each of its live
-- keys (their updated_at moves), to the house's admins.

ALTER TABLE public.api_keys ADD COLUMN house_deleted_at timestamptz, ADD COLUMN agent_deleted_at timestamptz;
COMMENT ON COLUMN public.api_keys.house_deleted_at
IS 'copy of the house''s deleted_at, kept by a trigger; read by arbe.live_api_key';
COMMENT ON COLUMN public.api_keys.agent_deleted_at
IS 'copy of the agent''s deleted_at (NULL for a house-wide key), kept by a trigger; read by arbe.live_api_key';

-- Backfill in one statement per side. (The declarative layer's triggers are not
-- there yet when this runs: `arbedb apply` re-declares them right after.)
UPDATE public.api_keys AS k SET house_deleted_at = h.deleted_at
FROM public.houses AS h
WHERE h.id = k.house_id AND h.deleted_at IS NOT NULL;
UPDATE public.api_keys AS k SET agent_deleted_at = a.deleted_at
FROM public.agents AS a
WHERE a.house_id = k.house_id AND a.id = k.agent_id AND a.deleted_at IS NOT NULL;
