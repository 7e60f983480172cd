"""members.house_deleted_at (the copy of the house's liveness the RLS lookup
reads) stays true when a membership is written while the house's soft delete or
restore is in flight, in either order and at every pair of isolation levels:
every writer of either side serialises on the house row."""

from __future__ import annotations

import pytest
from concurrency import Step, races_broken

from arbedb.testing.impersonate import AUTHENTICATED, SERVICE, set_identity, user_claims
from arbedb.testing.world import WorldBuilder

SERVICE_STEP = (SERVICE, {"role": SERVICE})
DELETE_HOUSE = "UPDATE public.houses SET deleted_at = now() WHERE id = %s"
RESTORE_HOUSE = "UPDATE public.houses SET deleted_at = NULL WHERE id = %s"
ADD_MEMBER = "INSERT INTO public.members (house_id, user_id, role) VALUES (%s, %s, 'admin')"
# What the cascade's own refusals may be: accept_invite on a house already gone.
INVITE_REFUSED = "22023"


def _stale_copies(conn, house) -> list:
    """Live memberships whose copy disagrees with the house."""
    return conn.execute(
        "SELECT m.user_id, m.house_deleted_at, h.deleted_at FROM public.members AS m "
        "JOIN public.houses AS h ON h.id = m.house_id "
        "WHERE m.house_id = %s AND m.deleted_at IS NULL AND m.house_deleted_at IS DISTINCT FROM h.deleted_at",
        (house,)).fetchall()


def _world(conn, deleted: bool):
    """A house (live or soft-deleted), its owner, a newcomer and an invite for them,
    and a member who left."""
    w = WorldBuilder(conn)
    owner, newcomer = w.user("owner@example.com"), w.user("new@example.com")
    house = w.house("h", created_by=owner)
    w.member(house, w.user("left@example.com"), "member", deleted_at="2020-01-01")
    with conn.cursor() as cur:
        set_identity(cur, AUTHENTICATED, user_claims(owner))
        token = cur.execute("SELECT arbe.create_invite(%s, 'new@example.com', 'admin')", (house,)).fetchone()[0]
    conn.commit()
    if deleted:
        conn.execute("UPDATE public.houses SET deleted_at = now() WHERE id = %s", (house,))
        conn.commit()
    return house, owner, newcomer, token


def _steps(kind, house, owner, newcomer, token):
    house_side = (Step(AUTHENTICATED, user_claims(owner), DELETE_HOUSE, (house,)) if kind != "restore vs insert"
                  else Step(*SERVICE_STEP, RESTORE_HOUSE, (house,)))
    if kind == "delete vs accept_invite":
        member_side = Step(AUTHENTICATED, user_claims(newcomer, "new@example.com"), "SELECT arbe.accept_invite(%s)",
                           (token,))
    elif kind == "delete vs membership restore":
        member_side = Step(*SERVICE_STEP, "UPDATE public.members SET deleted_at = NULL "
                           "WHERE house_id = %s AND deleted_at IS NOT NULL AND user_id <> %s", (house, newcomer))
    else:
        member_side = Step(*SERVICE_STEP, ADD_MEMBER, (house, newcomer))
    return house_side, member_side


KINDS = ("delete vs accept_invite", "delete vs insert", "restore vs insert", "delete vs membership restore")


@pytest.mark.parametrize("house_first", [True, False], ids=["house first", "membership first"])
@pytest.mark.parametrize("order", ["wait", "stale"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_membership_written_during_a_house_delete_or_restore_follows_the_house(
        arbedb_conn, arbedb_dsn, kind, order, house_first):
    def make():
        house, owner, newcomer, token = _world(arbedb_conn, deleted=kind == "restore vs insert")
        house_side, member_side = _steps(kind, house, owner, newcomer, token)
        return (*((house_side, member_side) if house_first else (member_side, house_side)), house)

    def stale(house):
        try:
            return _stale_copies(arbedb_conn, house)
        finally:
            arbedb_conn.rollback()

    broken = races_broken(arbedb_dsn, make, stale, order, {"ok", INVITE_REFUSED}, "house row")
    assert not broken, "\n".join(broken)
