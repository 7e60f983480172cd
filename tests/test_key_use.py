"""arbe.resolve_api_key's bookkeeping (issue 18 item 6): `last_used_at` is written at most
once a minute, and the write never waits, so parallel requests with one key do not queue on
its row and a revoke in flight neither waits for a resolution nor makes one wait."""

from __future__ import annotations

import psycopg
import pytest

from arbedb.testing.world import WorldBuilder

RESOLVE = "SELECT api_key_id FROM arbe.resolve_api_key(%s)"


@pytest.fixture
def key(arbedb_conn):
    """(key text, key id) of a fresh agent key, committed, never used."""
    w = WorldBuilder(arbedb_conn)
    admin = w.user("a@example.com")
    house = w.house("Acme", created_by=admin)
    agent = w.row("agents", house)
    arbedb_conn.commit()
    with arbedb_conn.cursor() as cur:
        cur.execute("SET ROLE authenticated")
        cur.execute("SELECT set_config('request.jwt.claims', %s, false)",
                    (f'{{"sub":"{admin}","role":"authenticated"}}',))
        text = cur.execute("SELECT arbe.create_api_key(%s, %s, 'ci')", (house, agent)).fetchone()[0]
        cur.execute("RESET ROLE")
    arbedb_conn.commit()
    key_id = arbedb_conn.execute("SELECT id FROM api_keys").fetchone()[0]
    arbedb_conn.commit()
    return text, key_id


def _resolve(dsn: str, text: str, lock_timeout: str = "0"):
    """One resolution in its own transaction as service_role, as the API server runs it."""
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute(f"SET lock_timeout = '{lock_timeout}'")
        c.execute("SET ROLE service_role")
        return c.execute(RESOLVE, (text,)).fetchall()


def _version(conn, key_id):
    """The key row's current version: (xmin, last_used_at)."""
    row = conn.execute("SELECT xmin::text, last_used_at FROM api_keys WHERE id = %s", (key_id,)).fetchone()
    conn.commit()
    return row


def test_five_resolutions_write_the_row_once(arbedb_conn, arbedb_dsn, key):
    text, key_id = key
    assert _version(arbedb_conn, key_id)[1] is None
    assert _resolve(arbedb_dsn, text) == [(key_id,)]
    first = _version(arbedb_conn, key_id)
    assert first[1] is not None  # the first use is recorded
    for _ in range(4):
        assert _resolve(arbedb_dsn, text) == [(key_id,)]
    assert _version(arbedb_conn, key_id) == first  # no new row version within the minute


def test_a_resolution_a_minute_later_records_the_use(arbedb_conn, arbedb_dsn, key):
    text, key_id = key
    arbedb_conn.execute("UPDATE api_keys SET last_used_at = now() - interval '61 seconds' WHERE id = %s", (key_id,))
    arbedb_conn.commit()
    before = _version(arbedb_conn, key_id)
    assert _resolve(arbedb_dsn, text) == [(key_id,)]
    after = _version(arbedb_conn, key_id)
    assert after[0] != before[0] and after[1] > before[1]


@pytest.mark.parametrize("holder", ["revoke", "resolve"])
def test_a_resolution_never_waits_for_the_key_row(arbedb_conn, arbedb_dsn, key, holder):
    """Another transaction holds the key's row (a revoke not yet committed, or another
    request's resolution still open): resolving answers at once (lock_timeout 100ms would
    fail a wait) and leaves the bookkeeping to a later call."""
    text, key_id = key
    with psycopg.connect(arbedb_dsn) as other:
        if holder == "revoke":
            other.execute("UPDATE api_keys SET revoked_at = now() WHERE id = %s", (key_id,))
        else:
            other.execute("SET ROLE service_role")
            assert other.execute(RESOLVE, (text,)).fetchall() == [(key_id,)]
        # The revoke is not committed: this resolution still sees a live key (its next
        # statement as the key re-checks); either way it must not wait.
        assert _resolve(arbedb_dsn, text, lock_timeout="100ms") == [(key_id,)]
        other.commit()
    if holder == "revoke":
        assert _resolve(arbedb_dsn, text, lock_timeout="100ms") == []


def test_a_revoke_does_not_wait_for_committed_resolutions(arbedb_conn, arbedb_dsn, key):
    text, key_id = key
    for _ in range(3):
        _resolve(arbedb_dsn, text)
    with psycopg.connect(arbedb_dsn) as admin:
        admin.execute("SET lock_timeout = '100ms'")
        admin.execute("UPDATE api_keys SET revoked_at = now() WHERE id = %s", (key_id,))
        admin.commit()
    assert _resolve(arbedb_dsn, text) == []
