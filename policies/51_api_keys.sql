-- API keys (model §4): `arbe_` + a 12-hex-digit prefix + a 64-hex-digit secret,
-- shown once. Only the prefix (to tell keys apart in a UI) and the SHA-256 of
-- the whole key are stored; resolution hashes what it is given and compares in
-- the database. Only service_role resolves keys (the API server does it for
-- agents that present one).

CREATE OR REPLACE FUNCTION arbe.create_api_key(house_id uuid, agent_id uuid, name text) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    prefix text;
    key text;
    key_id uuid;
BEGIN
    IF arbe.role_rank(arbe.house_role(create_api_key.house_id)) < arbe.role_rank('admin') THEN
        RAISE EXCEPTION 'only an admin or owner of the house can create API keys' USING ERRCODE = '42501';
    END IF;
    IF create_api_key.agent_id IS NOT NULL AND NOT EXISTS (
        SELECT FROM public.agents AS a
        WHERE a.id = create_api_key.agent_id AND a.house_id = create_api_key.house_id AND a.deleted_at IS NULL
    ) THEN
        RAISE EXCEPTION 'no live agent % in this house', create_api_key.agent_id USING ERRCODE = '23503';
    END IF;
    prefix := left(arbe.random_token(), 12);
    key := 'arbe_' || prefix || arbe.random_token();
    INSERT INTO public.api_keys (house_id, agent_id, name, prefix, created_by)
    VALUES (create_api_key.house_id, create_api_key.agent_id, create_api_key.name, prefix, arbe.caller_id())
    RETURNING id INTO key_id;
    INSERT INTO arbe_private.api_key_hashes (api_key_id, key_hash) VALUES (key_id, arbe.token_hash(key));
    RETURN key;
END
$$;

-- A key resolves exactly while it may act (arbe.live_api_key, policies/10_identity.sql:
-- not revoked, expired or deleted, its agent and house live).
--
-- last_used_at is bookkeeping, so it must never cost the key's owners anything:
-- - it is written at most once a minute (every write is a new row version that
--   Electric streams to the house's admins, and WAL);
-- - it never waits: the write takes the key's row only if no one holds it
--   (SKIP LOCKED), so parallel requests with one key do not queue on its row lock,
--   and a revoke in flight is not delayed by a resolution nor delays it. A skipped
--   write is taken by the next call after the holder is done.
-- Resolution reads the key as of its snapshot: a revoke committed later takes
-- effect on the key's next statement, which re-checks liveness (docs/model.md §4b).
CREATE OR REPLACE FUNCTION arbe.resolve_api_key(key text)
RETURNS TABLE (api_key_id uuid, house_id uuid, agent_id uuid)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    used_at timestamptz;
BEGIN
    SELECT k.id, k.house_id, k.agent_id, k.last_used_at
    INTO api_key_id, house_id, agent_id, used_at
    FROM arbe_private.api_key_hashes AS kh
    JOIN public.api_keys AS k ON k.id = kh.api_key_id
    WHERE kh.key_hash = arbe.token_hash(key)
      AND EXISTS (SELECT FROM arbe.live_api_key(k.id));
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF used_at IS NULL OR used_at <= now() - interval '1 minute' THEN
        BEGIN
            UPDATE public.api_keys AS k
            SET last_used_at = now()
            WHERE k.id IN (
                SELECT l.id FROM public.api_keys AS l
                WHERE l.id = resolve_api_key.api_key_id
                  AND (l.last_used_at IS NULL OR l.last_used_at <= now() - interval '1 minute')
                FOR NO KEY UPDATE SKIP LOCKED
            );
        EXCEPTION WHEN serialization_failure THEN
            -- REPEATABLE READ, and someone changed the row since the snapshot:
            -- the bookkeeping waits for the next call rather than failing this one.
            NULL;
        END;
    END IF;
    RETURN NEXT;
END
$$;

REVOKE ALL ON FUNCTION arbe.create_api_key(uuid, uuid, text), arbe.resolve_api_key(text) FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION arbe.create_api_key(uuid, uuid, text) TO authenticated;
GRANT EXECUTE ON FUNCTION arbe.resolve_api_key(text) TO service_role;
