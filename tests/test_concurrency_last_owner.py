"""The last live owner of a live house can be neither demoted nor removed, also
when two owners act on each other at once, at any isolation level either of them
chooses (READ COMMITTED, REPEATABLE READ, SERIALIZABLE: all nine pairs), and
whether the second acts while the first is still open or after it committed on
a snapshot taken before that commit. The scenarios are arbedb.rls.race_scenarios'
(`rls-test --mutate` runs them against the lock mutants)."""

from __future__ import annotations

import pytest

from arbedb.rls import race_scenarios as races

OWNER_CHANGES = [r for r in races.LAST_OWNER if not r.name.startswith("hard delete")]
HARD_DELETES = [r for r in races.LAST_OWNER if r.name.startswith("hard delete")]


@pytest.mark.parametrize("race", OWNER_CHANGES, ids=lambda r: r.name)
def test_the_last_owner_guard_holds_for_every_isolation_pair(arbedb_conn, arbedb_dsn, race):
    broken = races.broken(arbedb_dsn, arbedb_conn, race)
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("race", HARD_DELETES, ids=lambda r: r.name)
def test_a_hard_delete_racing_a_demotion_leaves_no_ownerless_live_house(arbedb_conn, arbedb_dsn, race):
    """service_role hard-deletes one owner while the other is demoted: the house
    either keeps a live owner or is soft-deleted (docs/decisions.md), never live
    without one."""
    broken = races.broken(arbedb_dsn, arbedb_conn, race)
    assert not broken, "\n".join(broken)
