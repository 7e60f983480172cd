"""Conformance on real logical replication: what Electric's pgoutput stream carries.

Each test opens a temporary pgoutput slot on its own database (see
electric_support.Stream) before writing, then decodes what was committed.
"""

from __future__ import annotations

import json
import os
import uuid

from electric_support import committed_as, stream  # noqa: F401 - stream is a fixture

from arbedb.electric import pgoutput
from arbedb.electric.shapes import load_shapes
from arbedb.verify.electric import looks_like_credential
from arbedb.testing.world import WorldBuilder

ALICE, BOB = "alice@example.com", "bob@example.com"


def _world(conn):
    w = WorldBuilder(conn)
    alice, bob = w.user(ALICE), w.user(BOB)
    conn.commit()
    return alice, bob


def _changes(stream, table=None):
    changes = [c for t in stream.read() for c in t.changes]
    return [c for c in changes if table is None or c.table == table]


def test_every_write_through_rls_streams_with_its_house_and_nothing_private(arbedb_conn, arbedb_project, stream):
    alice, bob = _world(arbedb_conn)
    house, agent, env, thread, secret = (uuid.uuid4() for _ in range(5))
    secret_value = f"s3cret-{uuid.uuid4()}"
    with committed_as(arbedb_conn, alice, ALICE) as cur:
        cur.execute("INSERT INTO houses (id, name, created_by) VALUES (%s, 'Acme', %s)", (house, alice))
        cur.execute("INSERT INTO agents (id, house_id, name, kind) VALUES (%s, %s, 'a1', 'coder')", (agent, house))
        cur.execute("INSERT INTO environments (id, house_id, name, kind) VALUES (%s, %s, 'e1', 'local')", (env, house))
        cur.execute("INSERT INTO threads (id, agent_id, kind, status, created_by) VALUES (%s, %s, 'chat', 'open', %s)",
                    (thread, agent, alice))
        cur.execute("INSERT INTO configs (house_id, environment_id, key, value) VALUES (%s, %s, 'k', '1')", (house, env))
        cur.execute("INSERT INTO secrets (id, environment_id, name) VALUES (%s, %s, 'db')", (secret, env))
        cur.execute("SELECT arbe.set_secret(%s, %s)", (secret, secret_value))
        cur.execute("SELECT arbe.create_invite(%s, %s, 'member')", (house, BOB))
        token = cur.fetchone()[0]
        cur.execute("SELECT arbe.create_api_key(%s, %s, 'ci')", (house, agent))
        api_key = cur.fetchone()[0]
        cur.execute("UPDATE houses SET name = 'Acme 2' WHERE id = %s", (house,))
        cur.execute("UPDATE threads SET deleted_at = now() WHERE id = %s", (thread,))
    with committed_as(arbedb_conn, bob, BOB) as cur:
        cur.execute("SELECT arbe.accept_invite(%s)", (token,))

    raw = stream.raw()
    changes = [c for t in pgoutput.transactions(map(pgoutput.decode, raw)) for c in t.changes]
    declared = load_shapes(arbedb_project).qualified_names
    assert {c.table for c in changes} == declared  # every synced table written above is streamed ...
    for change in changes:  # ... each change with its house, and only synced tables
        for row in (change.old, change.new):
            if row is not None:
                assert row["house_id"] == str(house), change
                assert not [c for c in row if looks_like_credential(c)], change
    kinds = {(c.table, c.kind) for c in changes}
    assert {("public.houses", "update"), ("public.threads", "update"), ("public.invites", "update")} <= kinds
    # The credential material itself never reaches the stream, in any message.
    blob = b"".join(raw)
    for secret_text in (token, api_key, secret_value):
        assert secret_text.encode() not in blob


def test_soft_delete_and_hard_delete_carry_the_complete_old_row(arbedb_conn, stream):
    alice, _ = _world(arbedb_conn)
    w = WorldBuilder(arbedb_conn)
    house = w.house("Acme", created_by=alice)
    agent = w.row("agents", house)
    config = w.row("configs", house, key="theme", value=json.dumps({"dark": True}))
    arbedb_conn.commit()
    inserted = {c.table: c.new for c in _changes(stream) if c.kind == "insert"}

    with committed_as(arbedb_conn, alice, ALICE) as cur:  # alice owns the house: admin+
        cur.execute("UPDATE agents SET deleted_at = now() WHERE id = %s", (agent,))
    [soft] = _changes(stream, "public.agents")
    assert soft.kind == "update" and soft.old_kind == "O"
    assert soft.old == inserted["public.agents"]  # the whole row as it was, not just its key
    # So a consumer sees it leave `house_id = $1 AND deleted_at IS NULL`:
    assert soft.old["house_id"] == soft.new["house_id"] == str(house)
    assert soft.old["deleted_at"] is None and soft.new["deleted_at"] is not None

    with arbedb_conn.transaction():
        arbedb_conn.execute("SET LOCAL ROLE service_role")
        arbedb_conn.execute("DELETE FROM configs WHERE id = %s", (config,))
    [hard] = _changes(stream, "public.configs")
    assert hard.kind == "delete" and hard.old_kind == "O"
    assert hard.old == inserted["public.configs"]


def test_txid_returned_inside_the_write_is_the_xid_of_its_begin(arbedb_conn, stream):
    alice, _ = _world(arbedb_conn)
    house = WorldBuilder(arbedb_conn).house("Acme", created_by=alice)
    arbedb_conn.commit()
    stream.read()
    reported = []
    for before_write in (False, True):  # arbe.txid() may come first: it assigns the xid itself
        with committed_as(arbedb_conn, alice, ALICE) as cur:
            if before_write:
                reported.append(cur.execute("SELECT arbe.txid()").fetchone()[0])
            cur.execute("INSERT INTO threads (house_id, kind, status) VALUES (%s, 'chat', 'open')", (house,))
            cur.execute("UPDATE houses SET name = 'renamed' WHERE id = %s", (house,))
            if not before_write:
                reported.append(cur.execute("SELECT arbe.txid()").fetchone()[0])
    transactions = stream.read()
    assert [t.xid for t in transactions] == reported
    assert all({c.table for c in t.changes} == {"public.threads", "public.houses"} for t in transactions)


def test_unpublished_tables_never_stream(arbedb_conn, stream):
    arbedb_conn.execute("CREATE TABLE public.scratch (id int PRIMARY KEY)")
    arbedb_conn.commit()
    _world(arbedb_conn)  # writes auth.users
    arbedb_conn.execute("INSERT INTO public.scratch VALUES (1)")
    arbedb_conn.execute("UPDATE public.scratch SET id = 2")
    arbedb_conn.execute("DELETE FROM public.scratch")
    arbedb_conn.commit()
    assert _changes(stream) == []


def test_unchanged_toasted_value_is_filled_from_the_old_row(arbedb_conn, stream):
    """An UPDATE leaves a large unchanged value out of the new row ('u'); the old row supplies it."""
    alice, _ = _world(arbedb_conn)
    w = WorldBuilder(arbedb_conn)
    house = w.house("Acme", created_by=alice)
    big = json.dumps({"blob": os.urandom(12000).hex()})  # incompressible: stored out of line
    thread = w.row("threads", house, usage=big)
    arbedb_conn.commit()
    arbedb_conn.execute("UPDATE threads SET title = 't' WHERE id = %s", (thread,))
    arbedb_conn.commit()
    update = [c for c in _changes(stream, "public.threads") if c.kind == "update"][0]
    assert json.loads(update.new["usage"]) == json.loads(big) == json.loads(update.old["usage"])
    assert update.new["title"] == "t"


def test_truncate_and_logical_messages_decode(arbedb_conn, stream):
    alice, _ = _world(arbedb_conn)
    w = WorldBuilder(arbedb_conn)
    w.row("configs", w.house("Acme", created_by=alice))
    arbedb_conn.commit()
    stream.read()
    arbedb_conn.execute("SELECT pg_logical_emit_message(true, 'arbedb', 'hello')")
    arbedb_conn.execute("TRUNCATE public.configs")
    arbedb_conn.commit()
    [txn] = [t for t in stream.read(messages=True) if t.changes]
    assert [(c.kind, c.table) for c in txn.changes] == [("truncate", "public.configs")]
    assert [(m.prefix, m.content) for m in txn.messages] == [("arbedb", b"hello")]
