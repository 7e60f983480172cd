"""The last live owner of a live house can be neither demoted nor removed, also
when two owners act on each other at once, at any isolation level either of them
chooses (READ COMMITTED, REPEATABLE READ, SERIALIZABLE: all nine pairs), and
whether the second acts while the first is still open or after it committed on
a snapshot taken before that commit."""

from __future__ import annotations

import pytest
from concurrency import PAIRS, RETRYABLE, Step, overlap

from arbedb.testing.impersonate import AUTHENTICATED, SERVICE, user_claims
from arbedb.testing.world import WorldBuilder

DEMOTE = "UPDATE public.members SET role = 'admin' WHERE house_id = %s AND user_id = %s"
REMOVE = "UPDATE public.members SET deleted_at = now() WHERE house_id = %s AND user_id = %s"
HARD_DELETE = "DELETE FROM public.members WHERE house_id = %s AND user_id = %s"
GUARD = "42501"


def _two_owner_house(conn):
    w = WorldBuilder(conn)
    a, b = w.user(), w.user()
    house = w.house("two owners", created_by=a)
    w.member(house, b, "owner")
    conn.commit()
    return house, a, b


def _live_owners(conn, house) -> int:
    return conn.execute("SELECT count(*) FROM public.members AS m JOIN public.houses AS h ON h.id = m.house_id "
                        "WHERE m.house_id = %s AND m.role = 'owner' AND m.deleted_at IS NULL "
                        "AND h.deleted_at IS NULL", (house,)).fetchone()[0]


def _house_live(conn, house) -> bool:
    return conn.execute("SELECT deleted_at IS NULL FROM public.houses WHERE id = %s", (house,)).fetchone()[0]


def _as(user, sql, house, target):
    return Step(AUTHENTICATED, user_claims(user), sql, (house, target))


# Owner a acts on owner b and b on a, with every pair of the owner-changing writes.
SCENARIOS = {
    "demote vs remove": (DEMOTE, REMOVE),
    "remove vs demote": (REMOVE, DEMOTE),
    "demote vs demote": (DEMOTE, DEMOTE),
    "remove vs remove": (REMOVE, REMOVE),
}


@pytest.mark.parametrize("order", ["wait", "stale"])
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_the_last_owner_guard_holds_for_every_isolation_pair(arbedb_conn, arbedb_dsn, scenario, order):
    first_sql, second_sql = SCENARIOS[scenario]
    broken = []
    for levels in PAIRS:
        house, a, b = _two_owner_house(arbedb_conn)
        got = overlap(arbedb_dsn, _as(a, first_sql, house, b), _as(b, second_sql, house, a), levels, order)
        owners = _live_owners(arbedb_conn, house)
        arbedb_conn.rollback()
        if owners < 1 or not got.any_ok or not {got.first, got.second} <= {"ok", GUARD} | RETRYABLE:
            broken.append(f"{levels}: {got}, live owners left: {owners}")
        if order == "wait" and got.first == "ok" and not got.second_waited:
            broken.append(f"{levels}: the second owner change did not wait for the first: {got}")
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("order", ["wait", "stale"])
def test_a_hard_delete_racing_a_demotion_leaves_no_ownerless_live_house(arbedb_conn, arbedb_dsn, order):
    """service_role hard-deletes one owner while the other is demoted: the house
    either keeps a live owner or is soft-deleted (docs/decisions.md), never live
    without one."""
    broken = []
    for levels in PAIRS:
        house, a, b = _two_owner_house(arbedb_conn)
        delete = Step(SERVICE, {"role": SERVICE}, HARD_DELETE, (house, a))
        got = overlap(arbedb_dsn, _as(a, DEMOTE, house, b), delete, levels, order)
        owners, live = _live_owners(arbedb_conn, house), _house_live(arbedb_conn, house)
        arbedb_conn.rollback()
        if (live and owners < 1) or not got.any_ok or not {got.first, got.second} <= {"ok", GUARD} | RETRYABLE:
            broken.append(f"{levels}: {got}, house live: {live}, live owners: {owners}")
    assert not broken, "\n".join(broken)
