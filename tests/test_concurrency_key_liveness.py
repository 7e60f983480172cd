"""api_keys.house_deleted_at and agent_deleted_at (the copies of liveness the
per-statement key check reads, arbe.live_api_key) stay true when a key starts
to act (created, restored, moved to an agent) while its house's or agent's soft
delete or restore is in flight, in either order and at every pair of isolation
levels: every such writer serialises on the house and agent rows
(triggers/26_key_liveness.sql)."""

from __future__ import annotations

import uuid

import pytest
from concurrency import Step, races_broken

from arbedb.testing.impersonate import AUTHENTICATED, SERVICE, user_claims
from arbedb.testing.world import WorldBuilder

SERVICE_CLAIMS = {"role": SERVICE}
# create_api_key's own refusals once the house or agent is gone.
REFUSED = {"42501", "23503"}


def _stale_keys(conn, house) -> list:
    """Keys not soft-deleted whose copies disagree with their house or agent."""
    return conn.execute(
        "SELECT k.name, k.house_deleted_at, h.deleted_at, k.agent_deleted_at, a.deleted_at "
        "FROM public.api_keys AS k JOIN public.houses AS h ON h.id = k.house_id "
        "LEFT JOIN public.agents AS a ON a.house_id = k.house_id AND a.id = k.agent_id "
        "WHERE k.house_id = %s AND k.deleted_at IS NULL "
        "AND (k.house_deleted_at IS DISTINCT FROM h.deleted_at OR k.agent_deleted_at IS DISTINCT FROM a.deleted_at)",
        (house,)).fetchall()


def _world(conn):
    """A live house with its owner, a live agent, a soft-deleted agent, a
    house-wide key and a soft-deleted key of each agent."""
    w = WorldBuilder(conn)
    owner = w.user("owner@example.com")
    house = w.house("h", created_by=owner)
    live, dead = w.row("agents", house), w.row("agents", house, deleted_at="2020-01-01")
    house_wide = w.row("api_keys", house, name="house-wide")
    gone = {a: w.row("api_keys", house, agent_id=a, name="deleted", deleted_at="2020-01-01") for a in (live, dead)}
    conn.commit()
    return house, owner, live, dead, house_wide, gone


def _owner(owner, statement: str, *params) -> Step:
    return Step(AUTHENTICATED, user_claims(owner), statement, params)


def _service(statement: str, *params) -> Step:
    return Step(SERVICE, SERVICE_CLAIMS, statement, params)


DELETE_HOUSE = "UPDATE public.houses SET deleted_at = now() WHERE id = %s"
DELETE_AGENT = "UPDATE public.agents SET deleted_at = now() WHERE id = %s"
RESTORE_AGENT = "UPDATE public.agents SET deleted_at = NULL WHERE id = %s"
RESTORE_KEY = "UPDATE public.api_keys SET deleted_at = NULL WHERE id = %s"
MOVE_KEY = "UPDATE public.api_keys SET agent_id = %s WHERE id = %s"
CREATE_KEY = "SELECT arbe.create_api_key(%s, %s, 'new')"
INSERT_KEY = "INSERT INTO public.api_keys (house_id, agent_id, name, prefix) VALUES (%s, %s, 'new', %s)"


def _insert_key(house, agent) -> Step:
    return _service(INSERT_KEY, house, agent, uuid.uuid4().hex[:12])  # prefix is unique


# kind -> (the house's or agent's write, the key's write), from the world's parts.
KINDS = {
    "house delete vs create_api_key": lambda h, o, live, dead, hw, gone: (
        _owner(o, DELETE_HOUSE, h), _owner(o, CREATE_KEY, h, live)),
    "house delete vs key restore": lambda h, o, live, dead, hw, gone: (
        _owner(o, DELETE_HOUSE, h), _service(RESTORE_KEY, gone[live])),
    "agent delete vs create_api_key": lambda h, o, live, dead, hw, gone: (
        _owner(o, DELETE_AGENT, live), _owner(o, CREATE_KEY, h, live)),
    "agent delete vs key insert": lambda h, o, live, dead, hw, gone: (
        _owner(o, DELETE_AGENT, live), _insert_key(h, live)),
    "agent delete vs key restore": lambda h, o, live, dead, hw, gone: (
        _owner(o, DELETE_AGENT, live), _service(RESTORE_KEY, gone[live])),
    "agent delete vs key moved to it": lambda h, o, live, dead, hw, gone: (
        _owner(o, DELETE_AGENT, live), _service(MOVE_KEY, live, hw)),
    "agent restore vs key insert": lambda h, o, live, dead, hw, gone: (
        _service(RESTORE_AGENT, dead), _insert_key(h, dead)),
}


@pytest.mark.parametrize("owner_first", [True, False], ids=["house or agent first", "key first"])
@pytest.mark.parametrize("order", ["wait", "stale"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_key_written_during_a_house_or_agent_delete_or_restore_follows_them(
        arbedb_conn, arbedb_dsn, kind, order, owner_first):
    def make():
        parts = _world(arbedb_conn)
        owner_side, key_side = KINDS[kind](*parts)
        return (*((owner_side, key_side) if owner_first else (key_side, owner_side)), parts[0])

    def stale(house):
        try:
            return _stale_keys(arbedb_conn, house)
        finally:
            arbedb_conn.rollback()

    broken = races_broken(arbedb_dsn, make, stale, order, {"ok"} | REFUSED, "house or agent row")
    assert not broken, "\n".join(broken)
