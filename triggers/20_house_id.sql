-- Where house_id comes from (model §3).
--
-- houses: house_id is the row's own id, so a houses shape uses the same WHERE
-- as every other table (the CHECK in the table makes any other value fail).
CREATE OR REPLACE FUNCTION arbe.house_id_is_id() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.house_id := NEW.id;
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER houses_house_id_is_id BEFORE INSERT ON public.houses
FOR EACH ROW EXECUTE FUNCTION arbe.house_id_is_id();

-- Children of an agent or environment take its house_id when none is given.
-- The composite foreign keys (house_id, agent_id) / (house_id, environment_id)
-- then guarantee, in the database, that the child and its parent share a house
-- — also when a house_id *is* given. The lookup runs as the caller (SECURITY
-- INVOKER): a parent the caller cannot see lends no house_id, and the insert
-- fails on house_id's NOT NULL without naming anything of another house.
-- Arguments: the parent id columns to try, in order, each with its table.
-- The trigger's WHEN (no house_id given) keeps an insert that names its house,
-- a member's or an admin's, out of PL/pgSQL altogether.
CREATE OR REPLACE FUNCTION arbe.inherit_house_id() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    i integer := 0;
    new_row jsonb := to_jsonb(NEW);
    parent_id uuid;
    parent_house uuid;
BEGIN
    WHILE NEW.house_id IS NULL AND i < TG_NARGS LOOP
        parent_id := (new_row ->> TG_ARGV[i])::uuid;
        IF parent_id IS NOT NULL THEN
            EXECUTE format('SELECT house_id FROM public.%I WHERE id = $1', TG_ARGV[i + 1])
            INTO parent_house USING parent_id;
            NEW.house_id := parent_house;
        END IF;
        i := i + 2;
    END LOOP;
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER threads_inherit_house_id BEFORE INSERT ON public.threads
FOR EACH ROW WHEN (new.house_id IS NULL)
EXECUTE FUNCTION arbe.inherit_house_id('agent_id', 'agents', 'environment_id', 'environments');
CREATE OR REPLACE TRIGGER configs_inherit_house_id BEFORE INSERT ON public.configs
FOR EACH ROW WHEN (new.house_id IS NULL)
EXECUTE FUNCTION arbe.inherit_house_id('agent_id', 'agents', 'environment_id', 'environments');
CREATE OR REPLACE TRIGGER secrets_inherit_house_id BEFORE INSERT ON public.secrets
FOR EACH ROW WHEN (new.house_id IS NULL) EXECUTE FUNCTION arbe.inherit_house_id('environment_id', 'environments');
CREATE OR REPLACE TRIGGER api_keys_inherit_house_id BEFORE INSERT ON public.api_keys
FOR EACH ROW WHEN (new.house_id IS NULL) EXECUTE FUNCTION arbe.inherit_house_id('agent_id', 'agents');
