"""arbe.txid() past xid wraparound: once the 64-bit transaction id has a non-zero
epoch, pg_current_xact_id() no longer equals the 32-bit xid in the stream's BEGIN
message. The function must return the 32-bit one (what Electric sends and TanStack
DB's awaitTxId compares), so this runs on a cluster whose epoch pg_resetwal set to 1."""

from __future__ import annotations

import psycopg
import pytest
from electric_support import Stream, committed_as

from arbedb import commands
from arbedb.server import LocalServer
from arbedb.testing.world import WorldBuilder


@pytest.fixture(scope="module")
def past_epoch_dsn(tmp_path_factory, arbedb_project):
    server = LocalServer(tmp_path_factory.mktemp("epoch"), ephemeral=True)
    server.start()
    server.stop()
    server._run("pg_resetwal", "-e", "1", "-D", str(server.data))  # as the server's own user, like pg_ctl
    try:
        dsn = server.start()
        commands.apply(arbedb_project, dsn)
        yield dsn
    finally:
        server.destroy()


def test_txid_is_the_32_bit_xid_of_begin_past_epoch_zero(past_epoch_dsn, arbedb_project):
    with psycopg.connect(past_epoch_dsn) as conn:
        assert conn.execute("SELECT pg_current_xact_id()::text::bigint >= 2 ^ 32").fetchone()[0]
        conn.rollback()
        w = WorldBuilder(conn)
        alice = w.user("alice@example.com")
        house = w.house("Acme", created_by=alice)
        conn.commit()
        stream = Stream(past_epoch_dsn, arbedb_project.publication)
        try:
            with committed_as(conn, alice, "alice@example.com") as cur:
                cur.execute("INSERT INTO threads (house_id, kind, status) VALUES (%s, 'chat', 'open')", (house,))
                reported = cur.execute("SELECT arbe.txid()").fetchone()[0]
                full = cur.execute("SELECT pg_current_xact_id()::text::bigint").fetchone()[0]
            [begin] = stream.read()
        finally:
            stream.close()
    assert full >= 2**32 and full % 2**32 == begin.xid  # the epoch is really there
    assert reported == begin.xid
