-- Secret values (SPEC §5): written by admin+ of the secret's house, read only by
-- service_role (the server that injects them into an environment). The value
-- never sits in a public table, so neither RLS reads nor Electric can carry it.

CREATE OR REPLACE FUNCTION arbe.set_secret(secret_id uuid, value text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = ''
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
    INSERT INTO arbe_private.secret_values AS v (secret_id, value) VALUES (set_secret.secret_id, set_secret.value)
    ON CONFLICT ON CONSTRAINT secret_values_pkey
    DO UPDATE SET value = excluded.value, updated_at = now();
END
$$;

-- PL/pgSQL: server code reads secrets often, and a SECURITY DEFINER SQL function
-- would re-plan this join on every call before PostgreSQL 18.
CREATE OR REPLACE FUNCTION arbe.read_secret(secret_id uuid) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    RETURN (
    SELECT v.value
    FROM arbe_private.secret_values AS v
    JOIN public.secrets AS s ON s.id = v.secret_id
    JOIN public.houses AS h ON h.id = s.house_id
    WHERE v.secret_id = read_secret.secret_id AND s.deleted_at IS NULL AND h.deleted_at IS NULL);
END
$$;

REVOKE ALL ON FUNCTION arbe.set_secret(uuid, text), arbe.read_secret(uuid) FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION arbe.set_secret(uuid, text) TO authenticated;
GRANT EXECUTE ON FUNCTION arbe.read_secret(uuid) TO service_role;
