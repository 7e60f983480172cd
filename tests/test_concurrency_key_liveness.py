"""api_keys.house_deleted_at and agent_deleted_at (the copies of liveness the
per-statement key check reads, arbe.live_api_key) stay true when a key starts
to act (created, restored, moved to an agent) while its house's or agent's soft
delete or restore is in flight, in either order and at every pair of isolation
levels: every such writer serialises on the house and agent rows
(triggers/26_key_liveness.sql). The scenarios are arbedb.rls.race_scenarios'
(`rls-test --mutate` runs them against the lock mutants)."""

from __future__ import annotations

import pytest

from arbedb.rls import race_scenarios as races


@pytest.mark.parametrize("race", races.KEY_LIVENESS, ids=lambda r: r.name)
def test_a_key_written_during_a_house_or_agent_delete_or_restore_follows_them(arbedb_conn, arbedb_dsn, race):
    broken = races.broken(arbedb_dsn, arbedb_conn, race)
    assert not broken, "\n".join(broken)
