-- created_by / ownership on insert.
--
-- An RLS-subject caller's rows are created by that caller: a missing created_by
-- is filled in, and the INSERT policies then require it to be the caller, so a
-- client can neither omit nor forge it. Trusted server code (service_role) may
-- record any author. "RLS-subject" is asked as stamp_inserted asks it
-- (triggers/10_updated_at.sql), and the trigger's WHEN (no created_by given)
-- keeps an insert that names its author out of PL/pgSQL.
CREATE OR REPLACE FUNCTION arbe.fill_created_by() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.created_by IS NULL AND row_security_active(TG_RELID) THEN
        NEW.created_by := arbe.caller_id();
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER houses_fill_created_by BEFORE INSERT ON public.houses
FOR EACH ROW WHEN (new.created_by IS NULL) EXECUTE FUNCTION arbe.fill_created_by();
CREATE OR REPLACE TRIGGER agents_fill_created_by BEFORE INSERT ON public.agents
FOR EACH ROW WHEN (new.created_by IS NULL) EXECUTE FUNCTION arbe.fill_created_by();
CREATE OR REPLACE TRIGGER environments_fill_created_by BEFORE INSERT ON public.environments
FOR EACH ROW WHEN (new.created_by IS NULL) EXECUTE FUNCTION arbe.fill_created_by();
CREATE OR REPLACE TRIGGER threads_fill_created_by BEFORE INSERT ON public.threads
FOR EACH ROW WHEN (new.created_by IS NULL) EXECUTE FUNCTION arbe.fill_created_by();
CREATE OR REPLACE TRIGGER secrets_fill_created_by BEFORE INSERT ON public.secrets
FOR EACH ROW WHEN (new.created_by IS NULL) EXECUTE FUNCTION arbe.fill_created_by();

-- The creator of a house becomes its owner. AFTER INSERT because the member row
-- references the house; SECURITY DEFINER because callers cannot insert members.
CREATE OR REPLACE FUNCTION arbe.creator_becomes_owner() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.created_by IS NOT NULL THEN
        INSERT INTO public.members (house_id, user_id, role) VALUES (NEW.id, NEW.created_by, 'owner');
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER houses_creator_becomes_owner AFTER INSERT ON public.houses
FOR EACH ROW EXECUTE FUNCTION arbe.creator_becomes_owner();
