"""Act as a caller the Supabase way, inside a transaction that is always rolled back.

    with as_user(conn, user_id, email="a@b.c") as cur:
        cur.execute("SELECT * FROM threads")

runs ``SET LOCAL ROLE authenticated`` and sets ``request.jwt.claims`` exactly as
PostgREST does (docs/model.md §2); ``as_key(conn, api_key_id)`` acts as an agent's API key
the same way, with the claims the API server sets after resolving the key. Nested inside an open transaction it uses a savepoint,
so a test can build a world as service_role and then act as several callers on
it; every change made while acting is undone on exit, error or not.
"""

from __future__ import annotations

import json
import uuid
from contextlib import contextmanager

ANON = "anon"
AUTHENTICATED = "authenticated"
SERVICE = "service_role"


def user_claims(user_id, email: str | None = None) -> dict:
    claims = {"sub": str(user_id), "role": AUTHENTICATED}
    if email is not None:
        claims["email"] = email
    return claims


def key_claims(api_key_id) -> dict:
    """What the API server sets for an agent after resolving its key (no sub: a key is not a user)."""
    return {"role": AUTHENTICATED, "arbe_api_key_id": str(api_key_id)}


@contextmanager
def acting_as(conn, role: str, claims: dict | str | None, *, keep: bool = False):
    """The general form: any database role, claims as a dict, raw string (to test
    malformed tokens) or None (no claims setting at all).

    ``keep=True`` keeps what the block wrote when it succeeds (a savepoint is
    released, the role and claims are reset); an error still undoes it all."""
    with conn.transaction(force_rollback=not keep):
        cur = conn.cursor()
        set_identity(cur, role, claims)
        yield cur
        if keep:
            clear_identity(cur)


def raw_claims(claims: dict | str | None) -> str | None:
    """The request.jwt.claims value: a dict as JSON, a raw string as it is (to test
    malformed tokens), None for no claims setting at all."""
    return claims if claims is None or isinstance(claims, str) else json.dumps(claims)


# set_config('role', …, true) is SET LOCAL ROLE; a NULL value resets the claims
# setting, which is what ``claims=None`` means: no claims at all, as for a
# request without a JWT. Parameters, not literals: one text for every caller, so
# the driver prepares it once.
IDENTITY = "SELECT set_config('role', %s, true), set_config('request.jwt.claims', %s, true)"


CLEAR_IDENTITY = "SELECT set_config('role', 'none', true), set_config('request.jwt.claims', '', true)"


def identity_params(role: str, claims: dict | str | None) -> tuple[str, str | None]:
    return role, raw_claims(claims)


def set_identity(cur, role: str, claims: dict | str | None) -> None:
    """Become the caller for the rest of the transaction (or savepoint): one round trip."""
    cur.execute(IDENTITY, identity_params(role, claims))


def clear_identity(cur) -> None:
    cur.execute(CLEAR_IDENTITY)


def as_user(conn, user_id: uuid.UUID | str, email: str | None = None):
    return acting_as(conn, AUTHENTICATED, user_claims(user_id, email))


def as_key(conn, api_key_id: uuid.UUID | str):
    return acting_as(conn, AUTHENTICATED, key_claims(api_key_id))


def as_anon(conn):
    return acting_as(conn, ANON, {"role": ANON})


def as_service(conn):
    return acting_as(conn, SERVICE, {"role": SERVICE})
