-- 0007 downgrade: back to key liveness read from houses and agents.
-- Electric: api_keys loses two columns (in no shape).
--
-- The declarative layer at head reads the columns, so first put back what
-- 0006's layer had: arbe.live_api_key joining houses and agents, and no key
-- liveness triggers. (`arbedb apply` re-declares the whole layer when it
-- upgrades again.)

DROP TRIGGER IF EXISTS api_keys_mirror_liveness ON public.api_keys;
DROP TRIGGER IF EXISTS houses_cascade_key_liveness ON public.houses;
DROP TRIGGER IF EXISTS agents_cascade_key_liveness ON public.agents;
DROP FUNCTION IF EXISTS arbe.mirror_key_liveness();
DROP FUNCTION IF EXISTS arbe.cascade_key_liveness();
DROP FUNCTION IF EXISTS arbe.lock_agent(uuid, uuid);

CREATE OR REPLACE FUNCTION arbe.live_api_key(api_key_id uuid)
RETURNS TABLE (house_id uuid, agent_id uuid)
LANGUAGE sql STABLE
AS $$
    SELECT k.house_id, k.agent_id
    FROM public.api_keys AS k
    INNER JOIN public.houses AS h ON k.house_id = h.id
    WHERE k.id = $1
      AND k.deleted_at IS NULL
      AND k.revoked_at IS NULL
      AND (k.expires_at IS NULL OR k.expires_at > now())
      AND h.deleted_at IS NULL
      AND (k.agent_id IS NULL OR EXISTS (
          SELECT FROM public.agents AS a WHERE a.id = k.agent_id AND a.deleted_at IS NULL))
$$;

ALTER TABLE public.api_keys DROP COLUMN house_deleted_at, DROP COLUMN agent_deleted_at;
