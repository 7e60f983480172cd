"""The reference model's own tests, for the matrix cells that are easy to get wrong."""

from __future__ import annotations

import uuid

from arbedb.rls import model
from arbedb.rls.model import Caller, Row, Update, World
from conftest import PERMS


def make_world():
    w = World(PERMS)
    ids = iter(uuid.UUID(int=i) for i in range(1, 1000))
    users = {name: next(ids) for name in ("owner", "admin", "member", "both", "outsider")}
    w.users = {u: f"{n}@example.com" for n, u in users.items()}
    houses = {name: next(ids) for name in ("h1", "h2")}
    for h in houses.values():
        w.rows["houses"][h] = Row(h, h, False, {"name": "h", "created_by": None})

    def member(user, house, role, deleted=False):
        mid = next(ids)
        w.rows["members"][mid] = Row(mid, houses[house], deleted, {"user_id": users[user], "role": role})
        return mid

    m = {"owner": member("owner", "h1", "owner"), "admin": member("admin", "h1", "admin"),
         "member": member("member", "h1", "member"), "both1": member("both", "h1", "member"),
         "both2": member("both", "h2", "admin"), "gone": member("outsider", "h1", "admin", deleted=True)}
    agent = {h: next(ids) for h in houses}
    for h, a in agent.items():
        w.rows["agents"][a] = Row(a, houses[h], False, {"name": "a", "created_by": None})
    callers = {n: Caller(n, u, w.users[u]) for n, u in users.items()}
    return w, users, houses, m, agent, callers


def test_the_last_owner_can_neither_leave_nor_be_demoted_but_can_once_there_is_another():
    w, users, houses, m, _, c = make_world()
    leave = Update("members", m["owner"], "deleted_at", "now")
    demote = Update("members", m["owner"], "role", "admin")
    assert not model.allowed(w, c["owner"], leave)
    assert not model.allowed(w, c["owner"], demote)
    w.rows["members"][m["admin"]].data["role"] = "owner"
    assert model.allowed(w, c["owner"], leave)
    assert model.allowed(w, c["owner"], demote)


def test_a_member_of_two_houses_has_each_houses_role_in_that_house_only():
    w, users, houses, m, agent, c = make_world()
    assert model.visible(w, c["both"], "agents") == set(agent.values())
    assert model.allowed(w, c["both"], Update("agents", agent["h2"], "name", "x"))  # admin in h2
    assert not model.allowed(w, c["both"], Update("agents", agent["h1"], "name", "x"))  # member in h1
    assert model.visible(w, c["member"], "agents") == {agent["h1"]}


def test_a_soft_deleted_membership_grants_nothing_but_its_own_row_stays_visible():
    w, users, houses, m, agent, c = make_world()
    assert model.visible(w, c["outsider"], "agents") == set()
    assert model.visible(w, c["outsider"], "members") == {m["gone"]}
    assert model.visible(w, c["outsider"], "houses") == set()


def test_a_soft_deleted_house_hides_everything_and_freezes_its_members():
    w, users, houses, m, agent, c = make_world()
    w.rows["houses"][houses["h1"]].deleted = True
    assert model.visible(w, c["owner"], "agents") == set()
    assert model.visible(w, c["owner"], "houses") == set()
    assert model.visible(w, c["owner"], "members") == {m["owner"]}  # their own row only
    # The house is gone: nothing of it can be changed by its members any more.
    assert not model.allowed(w, c["owner"], Update("members", m["owner"], "deleted_at", "now"))


def test_roles_admin_manages_non_owners_only_owner_touches_owners():
    w, users, houses, m, _, c = make_world()
    assert model.allowed(w, c["admin"], Update("members", m["member"], "role", "admin"))
    assert not model.allowed(w, c["admin"], Update("members", m["member"], "role", "owner"))
    assert not model.allowed(w, c["admin"], Update("members", m["owner"], "deleted_at", "now"))
    assert model.allowed(w, c["owner"], Update("members", m["member"], "role", "owner"))
    assert not model.allowed(w, c["member"], Update("members", m["member"], "role", "admin"))
    assert model.allowed(w, c["member"], Update("members", m["member"], "deleted_at", "now"))  # leaving


def test_nobody_sees_or_writes_anything():
    w, users, houses, m, agent, _ = make_world()
    for nobody in (Caller("anon", anon=True), Caller("broken", claims="{")):
        for table in PERMS.names:
            assert model.visible(w, nobody, table) == set()
        assert not model.allowed(w, nobody, model.Insert("houses", uuid.uuid4(), None))


def _with_keys(w, agent, houses):
    """An agent key and a house-wide key in h1, one thread and config of h1's agent, one house-wide config."""
    ids = iter(uuid.UUID(int=i) for i in range(2000, 3000))
    keys = {}
    for name, agent_id in (("agent", agent["h1"]), ("house", None)):
        keys[name] = next(ids)
        w.rows["api_keys"][keys[name]] = Row(keys[name], houses["h1"], False,
                                             {"agent_id": agent_id, "name": "k", "revoked": None, "expired": False})
    thread, config, shared = next(ids), next(ids), next(ids)
    w.rows["threads"][thread] = Row(thread, houses["h1"], False, {"agent_id": agent["h1"], "environment_id": None,
                                                                  "status": "open", "created_by": None})
    w.rows["configs"][config] = Row(config, houses["h1"], False, {"agent_id": agent["h1"], "environment_id": None,
                                                                  "value": "1"})
    w.rows["configs"][shared] = Row(shared, houses["h1"], False, {"agent_id": None, "environment_id": None,
                                                                  "value": "1"})
    return keys, thread, config, shared


def test_an_agent_key_sees_its_agents_rows_and_a_house_wide_key_none_that_name_an_agent():
    w, users, houses, m, agent, c = make_world()
    keys, thread, config, shared = _with_keys(w, agent, houses)
    agent_key, house_key = Caller("k", api_key_id=keys["agent"]), Caller("h", api_key_id=keys["house"])
    assert model.visible(w, agent_key, "threads") == {thread}
    assert model.visible(w, agent_key, "configs") == {config, shared}
    assert model.visible(w, house_key, "threads") == set() and model.visible(w, house_key, "configs") == {shared}
    assert model.visible(w, agent_key, "houses") == {houses["h1"]} and model.visible(w, agent_key, "members") == set()
    assert model.allowed(w, agent_key, Update("threads", thread, "status", "done"))
    assert not model.allowed(w, agent_key, Update("threads", thread, "deleted_at", "now"))
    assert not model.allowed(w, house_key, Update("threads", thread, "status", "done"))


def test_a_key_of_a_deleted_agent_or_revoked_is_nobody():
    w, users, houses, m, agent, c = make_world()
    keys, thread, *_ = _with_keys(w, agent, houses)
    agent_key = Caller("k", api_key_id=keys["agent"])
    w.rows["agents"][agent["h1"]].deleted = True
    assert model.visible(w, agent_key, "houses") == set()
    w.rows["agents"][agent["h1"]].deleted = False
    w.rows["api_keys"][keys["agent"]].data["revoked"] = "earlier"
    assert model.visible(w, agent_key, "threads") == set()
    assert not model.allowed(w, agent_key, Update("threads", thread, "status", "done"))
