"""members.house_deleted_at (the copy of the house's liveness the RLS lookup
reads) stays true when a membership is written while the house's soft delete or
restore is in flight, in either order and at every pair of isolation levels:
every writer of either side serialises on the house row. The scenarios are
arbedb.rls.race_scenarios' (`rls-test --mutate` runs them against the lock mutants)."""

from __future__ import annotations

import pytest

from arbedb.rls import race_scenarios as races


@pytest.mark.parametrize("race", races.MEMBERSHIP_LIVENESS, ids=lambda r: r.name)
def test_a_membership_written_during_a_house_delete_or_restore_follows_the_house(arbedb_conn, arbedb_dsn, race):
    broken = races.broken(arbedb_dsn, arbedb_conn, race)
    assert not broken, "\n".join(broken)
