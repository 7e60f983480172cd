"""created_at and updated_at are the server's clock on insert for every caller
under RLS, on every table a caller can insert into, whatever the client sends;
service_role (trusted server code: imports, backfills) may write its own."""

from __future__ import annotations

import uuid

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
