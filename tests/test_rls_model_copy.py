"""rls/model.py World.copy: a twin the checks change freely (a rolled-back sweep's model)
while the world it came from stays as it was."""

from __future__ import annotations

import uuid

from arbedb.rls.model import Row, World
from conftest import PERMS


def test_a_copy_shares_nothing_it_could_change():
    world = World(PERMS)
    house, row = uuid.uuid4(), uuid.uuid4()
    world.users[uuid.uuid4()] = "a@example.com"
    world.rows["threads"][row] = Row(row, house, False, {"status": "open"})
    world.tokens["t"] = row
    twin = world.copy()
    twin.rows["threads"][row].data["status"] = "done"
    twin.rows["threads"][row].deleted = True
    twin.rows["threads"][uuid.uuid4()] = Row(None, house)
    twin.users.clear()
    twin.tokens["u"] = row
    assert world.rows["threads"] == {row: Row(row, house, False, {"status": "open"})}
    assert len(world.users) == 1 and world.tokens == {"t": row}
    assert twin.perms is world.perms
