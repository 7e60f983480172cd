"""The README's pytest-plugin example, verbatim, so the documentation cannot rot."""

from arbedb.testing.impersonate import as_user
from arbedb.testing.world import WorldBuilder


def test_members_see_their_threads_only(arbedb_conn):
    w = WorldBuilder(arbedb_conn)
    alice, bob = w.user("alice@example.com"), w.user("bob@example.com")
    home = w.house("Home", created_by=alice)          # alice becomes its owner
    w.row("threads", home, created_by=alice)
    with as_user(arbedb_conn, alice, email="alice@example.com") as cur:
        assert cur.execute("SELECT count(*) FROM threads").fetchone()[0] == 1
    with as_user(arbedb_conn, bob) as cur:
        assert cur.execute("SELECT count(*) FROM threads").fetchone()[0] == 0
