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


def identity_sql(role: str, claims: dict | str | None):
    """One statement that sets role and claims transaction-locally, values inlined
    (so it can travel with others in one simple query): set_config('role', …, true)
    is SET LOCAL ROLE, and a NULL value resets the claims setting, which is what
    ``claims=None`` means: no claims at all, as for a request without a JWT."""
    from psycopg import sql

    raw = claims if claims is None or isinstance(claims, str) else json.dumps(claims)
    return sql.SQL("SELECT set_config('role', {}, true), set_config('request.jwt.claims', {}, true)").format(
        sql.Literal(role), sql.Literal(raw))


def set_identity(cur, role: str, claims: dict | str | None) -> None:
    """Become the caller for the rest of the transaction (or savepoint): one round trip."""
    cur.execute(identity_sql(role, claims))


def clear_identity(cur) -> None:
    cur.execute("SELECT set_config('role', 'none', true), set_config('request.jwt.claims', '', true)")


@contextmanager
def probing_as(conn, role: str, claims: dict | str | None, statement, params=()):
    """Run one statement as the caller and always undo it, in two round trips
    instead of four: savepoint, identity and statement travel as one simple
    query (client-side binding), the rollback as another. Yields the cursor on
    the statement's result; the statement's error, if any, is raised after the
    rollback. Needs an open transaction (the savepoint lives in it)."""
    from psycopg import ClientCursor, sql

    cur = ClientCursor(conn)
    try:
        cur.execute(sql.SQL("SAVEPOINT arbedb_probe; {}; {}").format(identity_sql(role, claims), statement), params)
        while cur.nextset():  # to the statement's own result, the last one
            pass
        yield cur
    finally:
        conn.execute("ROLLBACK TO SAVEPOINT arbedb_probe; RELEASE SAVEPOINT arbedb_probe")


def as_user(conn, user_id: uuid.UUID | str, email: str | None = None):
    return acting_as(conn, AUTHENTICATED, user_claims(user_id, email))


def as_key(conn, api_key_id: uuid.UUID | str):
    return acting_as(conn, AUTHENTICATED, key_claims(api_key_id))


def as_anon(conn):
    return acting_as(conn, ANON, {"role": ANON})


def as_service(conn):
    return acting_as(conn, SERVICE, {"role": SERVICE})
