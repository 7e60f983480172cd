-- Invites (model §4): the token is shown once, only its SHA-256 is stored (in
-- arbe_private), and it is compared in the database.
--
-- Randomness: two gen_random_uuid() values (PostgreSQL's strong random source,
-- 122 random bits each) give a 244-bit token without needing pgcrypto, which
-- plain PostgreSQL and the bundled builds may not have.
--
-- Every refusal of accept_invite raises the same message and SQLSTATE, so a
-- caller cannot tell a wrong token from an expired, used or revoked one.

CREATE OR REPLACE FUNCTION arbe.random_token() RETURNS text
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT encode(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()), 'hex')
$$;

CREATE OR REPLACE FUNCTION arbe.token_hash(token text) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT sha256(convert_to(token, 'UTF8'))
$$;

CREATE OR REPLACE FUNCTION arbe.create_invite(house_id uuid, email text, role text) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    token text := arbe.random_token();
    invite_id uuid;
BEGIN
    IF arbe.role_rank(arbe.house_role(create_invite.house_id)) < arbe.role_rank('admin') THEN
        RAISE EXCEPTION 'only an admin or owner of the house can invite' USING ERRCODE = '42501';
    END IF;
    IF create_invite.role IS NULL OR create_invite.role NOT IN ('member', 'admin') THEN
        RAISE EXCEPTION 'an invite grants the role member or admin' USING ERRCODE = '22023';
    END IF;
    INSERT INTO public.invites (house_id, email, role, invited_by)
    VALUES (create_invite.house_id, arbe.email_key(create_invite.email), create_invite.role, arbe.caller_id())
    RETURNING id INTO invite_id;
    INSERT INTO arbe_private.invite_tokens (invite_id, token_hash) VALUES (invite_id, arbe.token_hash(token));
    RETURN token;
END
$$;

-- The invite a token names, if the caller may accept it now; NULL otherwise.
-- PL/pgSQL (as lookup_invite): as SQL functions with SET clauses neither is
-- inlined, and before PostgreSQL 18 both re-plan their bodies on every call: a
-- lookup measured 3.6× slower as SQL on 15 (bench/function_language.py).
CREATE OR REPLACE FUNCTION arbe.acceptable_invite(token text) RETURNS public.invites
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    invite public.invites;
BEGIN
    SELECT i.* INTO invite
    FROM arbe_private.invite_tokens AS t
    JOIN public.invites AS i ON i.id = t.invite_id
    JOIN public.houses AS h ON h.id = i.house_id
    WHERE t.token_hash = arbe.token_hash(token)
      AND i.deleted_at IS NULL
      AND i.accepted_at IS NULL
      AND i.expires_at > now()
      -- Only while whoever created it could still create it (docs/decisions.md):
      -- an admin removed or demoted takes their pending invites with them.
      -- Invites made by server code (no invited_by) answer to nobody's standing.
      AND (i.invited_by IS NULL OR arbe.holds_admin_standing(i.house_id, i.invited_by))
      AND h.deleted_at IS NULL
      AND arbe.caller_email() IS NOT NULL
      AND arbe.email_key(i.email) = arbe.caller_email();  -- ASCII case only (policies/10_identity.sql)
    RETURN invite;
END
$$;

-- What the invitee is about to accept; no row for anything else.
CREATE OR REPLACE FUNCTION arbe.lookup_invite(token text)
RETURNS TABLE (house_id uuid, house_name text, role text, expires_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT i.house_id, h.name, i.role, i.expires_at
    FROM arbe.acceptable_invite(token) AS i
    JOIN public.houses AS h ON h.id = i.house_id
    WHERE i.id IS NOT NULL;
END
$$;

CREATE OR REPLACE FUNCTION arbe.accept_invite(token text) RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    invite public.invites;
    member_id uuid;
BEGIN
    invite := arbe.acceptable_invite(token);
    -- Lock the invite, then re-check it: of two concurrent accepts the second
    -- waits here and, once the first commits, no longer finds it acceptable.
    PERFORM FROM public.invites AS i WHERE i.id = invite.id FOR UPDATE;
    invite := arbe.acceptable_invite(token);
    IF invite.id IS NULL OR arbe.caller_id() IS NULL THEN
        RAISE EXCEPTION 'invite is invalid, expired, used or revoked' USING ERRCODE = '22023';
    END IF;
    -- Already a member: keep the existing membership (never downgrade an owner).
    SELECT m.id INTO member_id FROM public.members AS m
    WHERE m.house_id = invite.house_id AND m.user_id = arbe.caller_id() AND m.deleted_at IS NULL;
    IF member_id IS NULL THEN
        INSERT INTO public.members (house_id, user_id, role)
        VALUES (invite.house_id, arbe.caller_id(), invite.role)
        RETURNING id INTO member_id;
    END IF;
    UPDATE public.invites SET accepted_at = now(), accepted_by = arbe.caller_id() WHERE id = invite.id;
    RETURN member_id;
END
$$;

REVOKE ALL ON FUNCTION arbe.random_token(), arbe.token_hash(text), arbe.acceptable_invite(text),
arbe.create_invite(uuid, text, text), arbe.lookup_invite(text), arbe.accept_invite(text) FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION arbe.create_invite(uuid, text, text), arbe.lookup_invite(text),
arbe.accept_invite(text) TO authenticated;
