"""Property: for every API key, the key shapes the proxy may give it, replayed from
the stream, hold exactly what RLS shows that key (SPEC §5b).

The proxy resolves a key to (house, agent) and gives it each shape declared with
caller = "key" that it can bind (a house-wide key has no agent, so no shape with
an "agent" param); a dead key (revoked, expired, deleted, agent or house
deleted) gets none. Random committed writes — threads and configs of either
agent, of an environment or house-wide, soft deletes and restores, agents and a
house deleted, keys revoked — go through real logical replication (pgoutput);
the replayed shapes of every key equal ``SELECT … WHERE deleted_at IS NULL`` run
as that key under RLS, table by table.
"""

from __future__ import annotations

import uuid

from electric_support import Replay, Stream
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from arbedb.electric.shapes import load_shapes
from arbedb.testing.impersonate import as_key
from arbedb.testing.world import WorldBuilder

HOUSES, AGENTS = 2, 2
KEY_TABLES = ("houses", "agents", "environments", "threads", "configs")
PAST = "2026-01-01T00:00:00Z"

new_thread = st.tuples(st.just("thread"), st.integers(0, HOUSES - 1), st.none() | st.integers(0, AGENTS - 1),
                       st.booleans(), st.booleans())  # (house, agent, with environment, deleted)
new_config = st.tuples(st.just("config"), st.integers(0, HOUSES - 1), st.sampled_from(["agent0", "agent1", "env", None]),
                       st.booleans())
flip = st.tuples(st.sampled_from(["soft_delete", "restore"]), st.integers(0, 60))
ends = st.tuples(st.sampled_from(["revoke_key", "delete_agent", "delete_house"]), st.integers(0, 60))
operations = st.lists(st.one_of(new_thread, new_thread, new_config, new_config, flip, ends), min_size=1, max_size=14)


def _base(conn):
    """Per house: two agents, an environment, a key per agent, a house-wide key and
    an expired one. Returns (houses, agents per house, environments, keys)."""
    w = WorldBuilder(conn)
    houses = [w.house(f"h{i}") for i in range(HOUSES)]
    agents = {h: [w.row("agents", h, name=f"a{h.hex[:4]}{i}") for i in range(AGENTS)] for h in houses}
    envs = {h: w.row("environments", h, name=f"e{h.hex[:4]}") for h in houses}
    keys = []
    for h in houses:
        keys += [w.row("api_keys", h, agent_id=a) for a in agents[h]]
        keys += [w.row("api_keys", h), w.row("api_keys", h, agent_id=agents[h][0], expires_at=PAST)]
    return houses, agents, envs, keys


def _apply(conn, op, houses, agents, envs, keys, rows, n):
    w = WorldBuilder(conn)
    kind = op[0]
    if kind == "thread":
        _, house, agent, with_env, deleted = op
        h = houses[house]
        values = {"title": f"t{n}", "agent_id": None if agent is None else agents[h][agent],
                  "environment_id": envs[h] if with_env else None, "deleted_at": PAST if deleted else None}
        rows.append(("threads", w.row("threads", h, **{k: v for k, v in values.items() if v is not None})))
    elif kind == "config":
        _, house, owner, deleted = op
        h = houses[house]
        values = {"key": f"k{n}", "deleted_at": PAST if deleted else None,
                  "agent_id": agents[h][int(owner[-1])] if owner and owner.startswith("agent") else None,
                  "environment_id": envs[h] if owner == "env" else None}
        rows.append(("configs", w.row("configs", h, **{k: v for k, v in values.items() if v is not None})))
    elif kind in ("soft_delete", "restore") and rows:
        table, row_id = rows[op[1] % len(rows)]
        conn.execute(sql.SQL("UPDATE {} SET deleted_at = {} WHERE id = %s").format(
            sql.Identifier("public", table), sql.SQL("now()" if kind == "soft_delete" else "NULL")), (row_id,))
    elif kind == "revoke_key":
        conn.execute("UPDATE api_keys SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL",
                     (keys[op[1] % len(keys)],))
    elif kind == "delete_agent":
        h = houses[op[1] % HOUSES]
        conn.execute("UPDATE agents SET deleted_at = now() WHERE id = %s", (agents[h][op[1] % AGENTS],))
    elif kind == "delete_house":
        conn.execute("UPDATE houses SET deleted_at = now() WHERE id = %s", (houses[op[1] % HOUSES],))


def _key_scope(conn, key):
    """What arbe.resolve_api_key would answer for the key's text: (house, agent), or None when dead."""
    return conn.execute("SELECT house_id, agent_id FROM arbe.live_api_key(%s)", (key,)).fetchone()


@settings(max_examples=12, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=operations)
def test_replayed_key_shapes_equal_what_rls_shows_each_key(arbedb_conn, arbedb_dsn, arbedb_project, ops):
    shapes = load_shapes(arbedb_project)
    stream = Stream(arbedb_dsn, arbedb_project.publication)
    try:
        houses, agents, envs, keys = _base(arbedb_conn)
        arbedb_conn.commit()
        rows: list[tuple[str, uuid.UUID]] = []
        for n, op in enumerate(ops):
            _apply(arbedb_conn, op, houses, agents, envs, keys, rows, n)
            arbedb_conn.commit()
        transactions = stream.read()
    finally:
        stream.close()

    with arbedb_conn.transaction(force_rollback=True):
        scopes = {key: _key_scope(arbedb_conn, key) for key in keys}
        for name in KEY_TABLES:
            table = shapes.table(name)
            replay = Replay(arbedb_conn, table, transactions)
            query = sql.SQL("SELECT {} FROM {} WHERE deleted_at IS NULL").format(
                sql.SQL(", ").join(map(sql.Identifier, table.columns)), sql.Identifier(table.schema, table.name))
            for key, scope in scopes.items():
                proxied = set()
                for shape in table.shapes:
                    if scope is not None and shape.allows_key(scope[1]):
                        proxied |= {repr(r) for r in replay.materialise(shape, shape.bind_key(*scope))}
                with as_key(arbedb_conn, key) as cur:
                    seen_by_rls = {repr(r) for r in cur.execute(query)}
                assert proxied == seen_by_rls, (name, scope, ops)
