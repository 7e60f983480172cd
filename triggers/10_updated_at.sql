-- Timestamps are the server's clock, whatever a client sends.

-- updated_at moves on every change. A write that changes nothing keeps it: the
-- house row's serialising write (arbe.lock_house) is such a write, and a
-- member joining must not look like the house changed.
CREATE OR REPLACE FUNCTION arbe.touch_updated_at() RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    IF to_jsonb(NEW) = to_jsonb(OLD) THEN
        RETURN NEW;
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER houses_touch_updated_at BEFORE UPDATE ON public.houses
FOR EACH ROW EXECUTE FUNCTION arbe.touch_updated_at();
CREATE OR REPLACE TRIGGER members_touch_updated_at BEFORE UPDATE ON public.members
FOR EACH ROW EXECUTE FUNCTION arbe.touch_updated_at();
CREATE OR REPLACE TRIGGER agents_touch_updated_at BEFORE UPDATE ON public.agents
FOR EACH ROW EXECUTE FUNCTION arbe.touch_updated_at();
CREATE OR REPLACE TRIGGER environments_touch_updated_at BEFORE UPDATE ON public.environments
FOR EACH ROW EXECUTE FUNCTION arbe.touch_updated_at();
CREATE OR REPLACE TRIGGER threads_touch_updated_at BEFORE UPDATE ON public.threads
FOR EACH ROW EXECUTE FUNCTION arbe.touch_updated_at();
CREATE OR REPLACE TRIGGER configs_touch_updated_at BEFORE UPDATE ON public.configs
FOR EACH ROW EXECUTE FUNCTION arbe.touch_updated_at();
CREATE OR REPLACE TRIGGER secrets_touch_updated_at BEFORE UPDATE ON public.secrets
FOR EACH ROW EXECUTE FUNCTION arbe.touch_updated_at();
CREATE OR REPLACE TRIGGER invites_touch_updated_at BEFORE UPDATE ON public.invites
FOR EACH ROW EXECUTE FUNCTION arbe.touch_updated_at();
CREATE OR REPLACE TRIGGER api_keys_touch_updated_at BEFORE UPDATE ON public.api_keys
FOR EACH ROW EXECUTE FUNCTION arbe.touch_updated_at();

-- On insert, an RLS-subject caller's row is stamped with the server's time:
-- an optimistic client chooses the id it inserts, never when it happened.
-- Trusted server code (service_role) may write its own (imports, backfills).
-- On every table, also those callers insert into only through SECURITY DEFINER
-- functions (members, invites, api_keys): their statements run as the owner,
-- which bypasses RLS, and set no timestamp, so the column defaults apply there.
CREATE OR REPLACE FUNCTION arbe.stamp_inserted() RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    IF NOT arbe.caller_bypasses_rls() THEN
        NEW.created_at := now();
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER houses_stamp_inserted BEFORE INSERT ON public.houses
FOR EACH ROW EXECUTE FUNCTION arbe.stamp_inserted();
CREATE OR REPLACE TRIGGER members_stamp_inserted BEFORE INSERT ON public.members
FOR EACH ROW EXECUTE FUNCTION arbe.stamp_inserted();
CREATE OR REPLACE TRIGGER agents_stamp_inserted BEFORE INSERT ON public.agents
FOR EACH ROW EXECUTE FUNCTION arbe.stamp_inserted();
CREATE OR REPLACE TRIGGER environments_stamp_inserted BEFORE INSERT ON public.environments
FOR EACH ROW EXECUTE FUNCTION arbe.stamp_inserted();
CREATE OR REPLACE TRIGGER threads_stamp_inserted BEFORE INSERT ON public.threads
FOR EACH ROW EXECUTE FUNCTION arbe.stamp_inserted();
CREATE OR REPLACE TRIGGER configs_stamp_inserted BEFORE INSERT ON public.configs
FOR EACH ROW EXECUTE FUNCTION arbe.stamp_inserted();
CREATE OR REPLACE TRIGGER secrets_stamp_inserted BEFORE INSERT ON public.secrets
FOR EACH ROW EXECUTE FUNCTION arbe.stamp_inserted();
CREATE OR REPLACE TRIGGER invites_stamp_inserted BEFORE INSERT ON public.invites
FOR EACH ROW EXECUTE FUNCTION arbe.stamp_inserted();
CREATE OR REPLACE TRIGGER api_keys_stamp_inserted BEFORE INSERT ON public.api_keys
FOR EACH ROW EXECUTE FUNCTION arbe.stamp_inserted();
