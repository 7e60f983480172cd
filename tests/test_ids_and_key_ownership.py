"""Two decisions of docs/decisions.md (issue 18 item 10), enforced:

- a thread id, once used, never names another house's thread: after service_role
  hard-deletes a thread, an outsider cannot create a thread with its id in their own
  house (the transcript's durable stream is named by the id), while service_role may
  put it back in its own house;
- API keys are the house's machine identities, not their creator's: a key keeps acting
  after the admin who created it is removed from the house, and after their account is
  deleted; revoking it is an explicit act of the house's admins.
"""

from __future__ import annotations

import threading
import uuid

import psycopg
import pytest
from psycopg import errors

from arbedb.rls import race_scenarios as races
from arbedb.testing.impersonate import AUTHENTICATED, SERVICE, acting_as, as_key, user_claims
from arbedb.testing.world import WorldBuilder


def as_user(conn, user):
    """As the user, keeping what the block wrote (committed by the caller, or not)."""
    return acting_as(conn, AUTHENTICATED, user_claims(user), keep=True)


def as_service(conn):
    return acting_as(conn, SERVICE, {"role": SERVICE}, keep=True)


@pytest.fixture
def houses(arbedb_conn):
    w = WorldBuilder(arbedb_conn)
    owner, admin, outsider = w.user("o@example.com"), w.user("a@example.com"), w.user("x@example.com")
    home = w.house("home", created_by=owner)
    w.member(home, admin, "admin")
    away = w.house("away", created_by=outsider)
    thread = w.row("threads", home, created_by=owner)
    agent = w.row("agents", home)
    arbedb_conn.commit()
    return dict(owner=owner, admin=admin, outsider=outsider, home=home, away=away, thread=thread, agent=agent)


def _insert_thread(conn, user, house, thread_id):
    with as_user(conn, user) as cur:
        cur.execute("INSERT INTO threads (id, house_id, kind, status, created_by) "
                    "VALUES (%s, %s, 'chat', 'open', %s)", (thread_id, house, user))
        return cur.execute("SELECT arbe.can_access_thread(%s)", (thread_id,)).fetchone()[0]


def _hard_delete(conn, thread_id):
    with as_service(conn) as cur:
        cur.execute("DELETE FROM threads WHERE id = %s", (thread_id,))
    conn.commit()


# ---------------------------------------------------------------- thread ids

def test_a_hard_deleted_thread_id_never_names_another_house(arbedb_conn, houses):
    _hard_delete(arbedb_conn, houses["thread"])
    with pytest.raises(errors.UniqueViolation) as refused:
        _insert_thread(arbedb_conn, houses["outsider"], houses["away"], houses["thread"])
    # It reads like the primary key's refusal of a live id: nothing more is learnt.
    assert refused.value.diag.constraint_name == "threads_pkey"
    arbedb_conn.rollback()
    # A fresh id works for the same caller in the same house (the refusal is about the id).
    assert _insert_thread(arbedb_conn, houses["outsider"], houses["away"], uuid.uuid4()) is True


def test_a_hard_deleted_thread_id_may_come_back_to_its_own_house(arbedb_conn, houses):
    _hard_delete(arbedb_conn, houses["thread"])
    assert _insert_thread(arbedb_conn, houses["owner"], houses["home"], houses["thread"]) is True


def test_concurrent_inserts_of_one_id_in_two_houses_leave_one(arbedb_conn, arbedb_dsn, houses):
    """Two houses race for a fresh id; the primary key of threads decides while both are
    live, and the registry decides once the winner is hard-deleted: either way one house."""
    fresh = uuid.uuid4()
    first = psycopg.connect(arbedb_dsn)
    try:
        first.execute("SELECT 1")  # open the transaction: the insert below is a savepoint in it
        _insert_thread(first, houses["owner"], houses["home"], fresh)  # not committed yet
        outcome = {}

        def second():
            with psycopg.connect(arbedb_dsn) as c:
                try:
                    _insert_thread(c, houses["outsider"], houses["away"], fresh)
                    c.commit()
                    outcome["second"] = "inserted"
                except errors.UniqueViolation:
                    outcome["second"] = "refused"

        t = threading.Thread(target=second)
        t.start()
        t.join(0.5)
        assert t.is_alive()  # waits for the first insert's fate
        first.commit()
        t.join(10)
        assert outcome == {"second": "refused"}
    finally:
        first.close()
    _hard_delete(arbedb_conn, fresh)
    with pytest.raises(errors.UniqueViolation):
        _insert_thread(arbedb_conn, houses["outsider"], houses["away"], fresh)
    arbedb_conn.rollback()


@pytest.mark.parametrize("race", races.THREAD_IDS, ids=lambda r: r.name)
def test_an_id_used_and_hard_deleted_while_another_house_inserts_it_names_one_house(arbedb_conn, arbedb_dsn, race):
    """At every pair of isolation levels; the race `rls-test --mutate` runs against the
    registry's lock mutant (arbedb.rls.race_scenarios)."""
    broken = races.broken(arbedb_dsn, arbedb_conn, race)
    assert not broken, "\n".join(broken)


def test_callers_cannot_read_or_write_the_registry(arbedb_conn, houses):
    for user in (houses["owner"], houses["outsider"]):
        with pytest.raises(errors.InsufficientPrivilege):
            with as_user(arbedb_conn, user) as cur:
                cur.execute("SELECT * FROM arbe_private.thread_ids")
        arbedb_conn.rollback()
        with pytest.raises(errors.InsufficientPrivilege):
            with as_user(arbedb_conn, user) as cur:
                cur.execute("DELETE FROM arbe_private.thread_ids")
        arbedb_conn.rollback()


# ---------------------------------------------------------------- key ownership

def _create_key(conn, admin, house, agent) -> tuple[str, uuid.UUID]:
    with as_user(conn, admin) as cur:
        text = cur.execute("SELECT arbe.create_api_key(%s, %s, 'bot')", (house, agent)).fetchone()[0]
        key_id = cur.execute("SELECT id FROM api_keys WHERE prefix = %s", (text[5:17],)).fetchone()[0]
    conn.commit()
    return text, key_id


def _key_sees_agents(conn, key_id) -> int:
    with as_key(conn, key_id) as cur:
        return cur.execute("SELECT count(*) FROM agents").fetchone()[0]


def _resolves(conn, text) -> bool:
    with as_service(conn) as cur:
        found = cur.execute("SELECT count(*) FROM arbe.resolve_api_key(%s)", (text,)).fetchone()[0] == 1
    conn.commit()
    return found


@pytest.mark.parametrize("how", ["removed from the house", "account deleted"])
def test_a_key_outlives_its_creators_standing(arbedb_conn, houses, how):
    text, key_id = _create_key(arbedb_conn, houses["admin"], houses["home"], houses["agent"])
    assert _resolves(arbedb_conn, text) and _key_sees_agents(arbedb_conn, key_id) == 1
    if how == "removed from the house":
        with as_user(arbedb_conn, houses["owner"]) as cur:
            cur.execute("UPDATE members SET deleted_at = now() WHERE user_id = %s", (houses["admin"],))
    else:  # as Supabase Auth deletes an account (its own role, not service_role)
        arbedb_conn.execute("DELETE FROM auth.users WHERE id = %s", (houses["admin"],))
    arbedb_conn.commit()
    assert _resolves(arbedb_conn, text) and _key_sees_agents(arbedb_conn, key_id) == 1
    # The house's remaining admins see the key, its creator, and can revoke it.
    with as_user(arbedb_conn, houses["owner"]) as cur:
        assert cur.execute("SELECT created_by FROM api_keys WHERE id = %s", (key_id,)).fetchone()[0] == houses["admin"]
        cur.execute("UPDATE api_keys SET revoked_at = now() WHERE id = %s", (key_id,))
    arbedb_conn.commit()
    assert not _resolves(arbedb_conn, text) and _key_sees_agents(arbedb_conn, key_id) == 0
