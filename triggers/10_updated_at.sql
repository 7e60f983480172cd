-- updated_at is the server's clock, whatever a client sends.
CREATE OR REPLACE FUNCTION arbe.touch_updated_at() RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
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
