"""created_at and updated_at are the server's clock on insert for every caller
under RLS, on every table a caller can insert into, whatever the client sends;
so are the dates of the events a caller causes (deleted_at, api_keys.revoked_at);
service_role (trusted server code: imports, backfills) may write its own."""

from __future__ import annotations

import uuid
from contextlib import nullcontext as _no_row

import psycopg
import pytest

from conftest import PERMS
from arbedb.testing.impersonate import SERVICE, acting_as, user_claims
from arbedb.testing.world import WorldBuilder

LONG_AGO = "2000-01-01T00:00:00Z"
SERVER_TIME = "%s > now() - interval '1 hour'"  # the insert's transaction committed moments ago
VALUES = {"houses": {"name": "h"}, "agents": {"name": "a", "kind": "coder"},
          "environments": {"name": "e", "kind": "local"}, "threads": {"kind": "chat", "status": "open"},
          "configs": {"key": "k", "value": "1"}, "secrets": {"name": "s"}}


@pytest.fixture
def house(arbedb_conn):
    w = WorldBuilder(arbedb_conn)
    owner = w.user("o@example.com")
    h = w.house("h", created_by=owner)
    arbedb_conn.commit()
    return h, owner


def _insert(conn, role, claims, table, house):
    row_id = uuid.uuid4()
    unique = {k: f"{v}-{row_id.hex[:8]}" for k, v in VALUES[table].items() if k in ("name", "key")}
    values = {**VALUES[table], **unique, "id": row_id, "created_at": LONG_AGO, "updated_at": LONG_AGO}
    if table != "houses":
        values["house_id"] = house
    cols = ", ".join(values)
    with acting_as(conn, role, claims, keep=True) as cur:
        cur.execute(f"INSERT INTO public.{table} ({cols}) VALUES ({', '.join(['%s'] * len(values))})",
                    list(values.values()))
    return conn.execute(f"SELECT {SERVER_TIME % 'created_at'}, {SERVER_TIME % 'updated_at'} "
                        f"FROM public.{table} WHERE id = %s", (row_id,)).fetchone()


@pytest.mark.parametrize("table", [t for t in PERMS.names if PERMS[t].direct])
def test_a_caller_cannot_choose_created_at_or_updated_at_on_insert(arbedb_conn, house, table):
    h, owner = house
    assert _insert(arbedb_conn, "authenticated", user_claims(owner), table, h) == (True, True)
    assert _insert(arbedb_conn, SERVICE, {"role": SERVICE}, table, h) == (False, False)


def test_a_caller_cannot_choose_updated_at_on_update(arbedb_conn, house):
    h, owner = house
    with acting_as(arbedb_conn, "authenticated", user_claims(owner), keep=True) as cur:
        cur.execute("UPDATE public.houses SET name = 'n', updated_at = %s WHERE id = %s", (LONG_AGO, h))
    assert arbedb_conn.execute(f"SELECT {SERVER_TIME % 'updated_at'} FROM public.houses WHERE id = %s",
                               (h,)).fetchone()[0]


# -- the dates of events a caller causes: deleted_at and api_keys.revoked_at ----------------------

EVENT_TABLES = ["houses", "members", "agents", "environments", "threads", "configs", "secrets", "invites",
                "api_keys"]


def _event_row(conn, table, h):
    w = WorldBuilder(conn)
    if table == "houses":
        return h
    if table == "members":
        return w.member(h, w.user(f"m-{uuid.uuid4().hex[:8]}@example.com"))
    return w.row(table, h)


def _dated(conn, role, claims, table, row_id, column, value=LONG_AGO):
    with acting_as(conn, role, claims, keep=True) as cur:
        cur.execute(f"UPDATE public.{table} SET {column} = %s WHERE id = %s", (value, row_id))
        assert cur.rowcount == 1
    return conn.execute(f"SELECT {SERVER_TIME % column} FROM public.{table} WHERE id = %s", (row_id,)).fetchone()[0]


@pytest.mark.parametrize("table", EVENT_TABLES)
def test_a_soft_delete_is_dated_by_the_server(arbedb_conn, house, table):
    h, owner = house
    row = _event_row(arbedb_conn, table, h)
    arbedb_conn.commit()
    assert _dated(arbedb_conn, "authenticated", user_claims(owner), table, row, "deleted_at") is True
    # Once set, the date stays: a deleted row is frozen for callers.
    with pytest.raises(psycopg.errors.InsufficientPrivilege) if table != "houses" else _no_row(), \
            acting_as(arbedb_conn, "authenticated", user_claims(owner)) as cur:
        cur.execute(f"UPDATE public.{table} SET deleted_at = %s WHERE id = %s", (LONG_AGO, row))
        assert cur.rowcount == 0  # a deleted house is out of every caller's reach


def test_server_code_dates_its_own_soft_deletes(arbedb_conn, house):
    h, _ = house
    row = WorldBuilder(arbedb_conn).row("agents", h)
    assert _dated(arbedb_conn, SERVICE, {"role": SERVICE}, "agents", row, "deleted_at") is False


def test_a_revocation_is_dated_by_the_server_and_set_once(arbedb_conn, house):
    h, owner = house
    key = WorldBuilder(arbedb_conn).row("api_keys", h)
    arbedb_conn.commit()
    assert _dated(arbedb_conn, "authenticated", user_claims(owner), "api_keys", key, "revoked_at") is True
    with pytest.raises(psycopg.errors.InsufficientPrivilege), \
            acting_as(arbedb_conn, "authenticated", user_claims(owner)) as cur:
        cur.execute("UPDATE public.api_keys SET revoked_at = %s WHERE id = %s", (LONG_AGO, key))


def test_a_row_inserted_deleted_is_dated_by_the_server(arbedb_conn, house):
    h, owner = house
    row_id = uuid.uuid4()
    with acting_as(arbedb_conn, "authenticated", user_claims(owner), keep=True) as cur:
        cur.execute("INSERT INTO public.agents (id, house_id, name, kind, deleted_at) VALUES (%s, %s, 'a', 'coder', %s)",
                    (row_id, h, LONG_AGO))
    assert arbedb_conn.execute(f"SELECT {SERVER_TIME % 'deleted_at'} FROM public.agents WHERE id = %s",
                               (row_id,)).fetchone()[0]
