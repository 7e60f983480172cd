"""Hard deletes cannot leave a live house without a live owner (docs/decisions.md):
when service_role DELETEs the last owner's membership, or the owner's account is
deleted from auth.users (Supabase's way; memberships cascade), the house is
soft-deleted in the same statement. A house that keeps another owner stays."""

from __future__ import annotations

import pytest

from arbedb.testing.impersonate import SERVICE, acting_as
from arbedb.testing.world import WorldBuilder


@pytest.fixture
def world(arbedb_conn):
    w = WorldBuilder(arbedb_conn)
    owner, admin, other = w.user("o@example.com"), w.user("a@example.com"), w.user("p@example.com")
    solo = w.house("solo", created_by=owner)
    w.member(solo, admin, "admin")
    shared = w.house("shared", created_by=owner)
    w.member(shared, other, "owner")
    arbedb_conn.commit()
    return arbedb_conn, owner, admin, solo, shared


def _live(conn, house) -> bool:
    return conn.execute("SELECT deleted_at IS NULL FROM public.houses WHERE id = %s", (house,)).fetchone()[0]


def _as_service(conn, sql, params):
    with acting_as(conn, SERVICE, {"role": SERVICE}, keep=True) as cur:
        cur.execute(sql, params)


def test_a_hard_deleted_last_owner_leaves_no_live_ownerless_house(world):
    conn, owner, admin, solo, shared = world
    _as_service(conn, "DELETE FROM public.members WHERE user_id = %s", (owner,))
    assert not _live(conn, solo)  # its last owner went: soft-deleted, with its admin's membership
    assert conn.execute("SELECT house_deleted_at IS NOT NULL FROM public.members WHERE user_id = %s",
                        (admin,)).fetchone()[0]
    assert _live(conn, shared)  # another owner remains


def test_deleting_the_owners_account_leaves_no_live_ownerless_house(world):
    conn, owner, _admin, solo, shared = world
    conn.execute("DELETE FROM auth.users WHERE id = %s", (owner,))  # as Supabase's auth server does
    assert not _live(conn, solo) and _live(conn, shared)


def test_deleting_every_owner_in_one_statement_retires_the_house(world):
    conn, owner, _admin, _solo, shared = world
    _as_service(conn, "DELETE FROM public.members WHERE house_id = %s AND role = 'owner'", (shared,))
    assert not _live(conn, shared)


def test_hard_deleting_a_non_owner_or_a_removed_owner_changes_no_house(world):
    conn, owner, admin, solo, shared = world
    _as_service(conn, "DELETE FROM public.members WHERE user_id = %s", (admin,))
    assert _live(conn, solo)
    _as_service(conn, "UPDATE public.members SET deleted_at = now() WHERE house_id = %s AND user_id = %s",
                (shared, owner))
    _as_service(conn, "DELETE FROM public.members WHERE house_id = %s AND user_id = %s", (shared, owner))
    assert _live(conn, shared)
