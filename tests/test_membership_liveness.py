"""members.house_deleted_at: the copy of the house's deleted_at that lets the RLS
membership lookup be one index-only scan (migrations/versions/0003, triggers/25).
A stale copy would be a hole (a deleted house still readable) or an outage (a live
one unreadable), so its upkeep is tested from every side that can write it."""

from __future__ import annotations

import psycopg
import pytest
from conftest import assert_same_catalog, snapshot

from arbedb import commands
from arbedb.testing.impersonate import SERVICE, acting_as, as_user, user_claims
from arbedb.testing.world import WorldBuilder


@pytest.fixture
def house(arbedb_conn):
    w = WorldBuilder(arbedb_conn)
    owner, member = w.user("owner@example.com"), w.user("member@example.com")
    house = w.house("h", created_by=owner)
    w.member(house, member, "member")
    w.row("threads", house)
    arbedb_conn.commit()
    return w, house, owner, member


def _copies(conn, house) -> set:
    return {r[0] for r in conn.execute("SELECT house_deleted_at FROM public.members WHERE house_id = %s",
                                       (house,)).fetchall()}


def _sees_thread(conn, user, house) -> bool:
    with as_user(conn, user) as cur:
        return cur.execute("SELECT count(*) FROM public.threads WHERE house_id = %s", (house,)).fetchone()[0] == 1


def _write(conn, role, claims, statement, params):
    with acting_as(conn, role, claims, keep=True) as cur:
        return cur.execute(statement, params).rowcount


def test_soft_delete_and_restore_reach_every_membership(arbedb_conn, house):
    _w, h, owner, member = house
    assert _copies(arbedb_conn, h) == {None} and _sees_thread(arbedb_conn, member, h)

    # The owner's soft delete (under RLS) rewrites memberships the owner could not update.
    assert _write(arbedb_conn, "authenticated", user_claims(owner),
                  "UPDATE public.houses SET deleted_at = now() WHERE id = %s", (h,)) == 1
    deleted_at = arbedb_conn.execute("SELECT deleted_at FROM public.houses WHERE id = %s", (h,)).fetchone()[0]
    assert _copies(arbedb_conn, h) == {deleted_at}
    assert not _sees_thread(arbedb_conn, member, h)

    _write(arbedb_conn, SERVICE, {"role": SERVICE}, "UPDATE public.houses SET deleted_at = NULL WHERE id = %s", (h,))
    assert _copies(arbedb_conn, h) == {None}
    assert _sees_thread(arbedb_conn, member, h)


def test_a_hand_written_copy_is_overwritten(arbedb_conn, house):
    """Even trusted code cannot desynchronise it: in a live house a copy set by hand
    goes back to NULL, and in a deleted house NULL cannot bring the members back."""
    w, h, owner, member = house
    _write(arbedb_conn, SERVICE, {"role": SERVICE}, "UPDATE public.members SET house_deleted_at = now() "
           "WHERE house_id = %s", (h,))
    assert _copies(arbedb_conn, h) == {None}

    _write(arbedb_conn, SERVICE, {"role": SERVICE}, "UPDATE public.houses SET deleted_at = now() WHERE id = %s", (h,))
    _write(arbedb_conn, SERVICE, {"role": SERVICE}, "UPDATE public.members SET house_deleted_at = NULL "
           "WHERE house_id = %s", (h,))
    assert None not in _copies(arbedb_conn, h)
    assert not _sees_thread(arbedb_conn, member, h)


def test_a_membership_added_to_a_deleted_house_starts_deleted(arbedb_conn, house):
    w, h, _owner, _member = house
    _write(arbedb_conn, SERVICE, {"role": SERVICE}, "UPDATE public.houses SET deleted_at = now() WHERE id = %s", (h,))
    late = w.user("late@example.com")
    w.member(h, late, "admin")
    assert arbedb_conn.execute("SELECT house_deleted_at IS NOT NULL FROM public.members WHERE user_id = %s",
                               (late,)).fetchone()[0]
    assert not _sees_thread(arbedb_conn, late, h)


def test_downgrade_to_0002_keeps_rls_working_and_upgrade_restores_head(arbedb_project, empty_dsn):
    """0003's downgrade puts back the lookup that reads houses, so a database rolled
    back to 0002 still answers, and still hides a deleted house."""
    commands.apply(arbedb_project, empty_dsn)
    head = snapshot(empty_dsn)
    commands.down(arbedb_project, empty_dsn, "0002")
    with psycopg.connect(empty_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM information_schema.columns "
                            "WHERE table_name = 'members' AND column_name = 'house_deleted_at'").fetchone()[0] == 0
        w = WorldBuilder(conn)
        owner = w.user("o@example.com")
        live, gone = w.house("live", created_by=owner), w.house("gone", created_by=owner)
        for h in (live, gone):
            w.row("threads", h)
        _write(conn, SERVICE, {"role": SERVICE}, "UPDATE public.houses SET deleted_at = now() WHERE id = %s", (gone,))
        assert _sees_thread(conn, owner, live) and not _sees_thread(conn, owner, gone)
    commands.apply(arbedb_project, empty_dsn)
    # Column positions aside: a dropped column keeps its attnum, so the re-added one comes after it.
    unplaced = lambda snap: snap | {"columns": [c[:-1] for c in snap["columns"]]}  # noqa: E731
    assert_same_catalog(unplaced(head), unplaced(snapshot(empty_dsn)))


def _membership(conn, user):
    return conn.execute("SELECT to_jsonb(m) FROM public.members AS m WHERE user_id = %s", (user,)).fetchone()[0]


def test_a_removed_member_sees_nothing_change_after_they_left(arbedb_conn, house):
    """The member's own row is the one thing of the house they can still read after
    leaving: the house's later soft delete and restore must not rewrite it."""
    _w, h, owner, member = house
    assert _write(arbedb_conn, "authenticated", user_claims(member),
                  "UPDATE public.members SET deleted_at = now() WHERE user_id = %s", (member,)) == 1
    arbedb_conn.commit()

    def seen_by_member():
        with as_user(arbedb_conn, member) as cur:
            return cur.execute("SELECT to_jsonb(m) FROM public.members AS m").fetchall()

    left = seen_by_member()
    assert [r[0]["user_id"] for r in left] == [str(member)]
    _write(arbedb_conn, "authenticated", user_claims(owner),
           "UPDATE public.houses SET deleted_at = now() WHERE id = %s", (h,))
    arbedb_conn.commit()
    assert seen_by_member() == left
    _write(arbedb_conn, SERVICE, {"role": SERVICE}, "UPDATE public.houses SET deleted_at = NULL WHERE id = %s", (h,))
    arbedb_conn.commit()
    assert seen_by_member() == left
    # The owner's live membership did follow the house both ways.
    assert _membership(arbedb_conn, owner)["house_deleted_at"] is None


def test_a_member_joining_does_not_touch_the_house(arbedb_conn, house):
    """The write that serialises a new membership with the house's soft delete
    changes nothing in the house row, its updated_at included."""
    w, h, _owner, _member = house
    before = arbedb_conn.execute("SELECT to_jsonb(h) FROM public.houses AS h WHERE id = %s", (h,)).fetchone()[0]
    arbedb_conn.commit()
    w.member(h, w.user("late@example.com"), "member")
    arbedb_conn.commit()
    assert arbedb_conn.execute("SELECT to_jsonb(h) FROM public.houses AS h WHERE id = %s", (h,)).fetchone()[0] == before
