"""No function a caller may EXECUTE locks or probes another house (ARB023): trigger
and policy helpers are reached only through paths that run as their owner."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from arbedb.testing.impersonate import as_anon, as_user, set_identity, user_claims
from arbedb.testing.world import WorldBuilder


@pytest.fixture
def house(arbedb_conn):
    w = WorldBuilder(arbedb_conn)
    owner, stranger = w.user("o@example.com"), w.user("s@example.com")
    h = w.house("Acme", created_by=owner)
    membership = arbedb_conn.execute("SELECT id FROM public.members WHERE house_id = %s", (h,)).fetchone()[0]
    arbedb_conn.commit()
    return dict(owner=owner, stranger=stranger, h=h, membership=membership)


def test_no_caller_can_lock_another_house_through_a_helper(arbedb_dsn, house):
    """A stranger's open transaction, having tried the last-owner helper and the
    writes it can attempt, holds no lock on the house or its owner's membership:
    a second connection takes both rows at once (NOWAIT)."""
    with psycopg.connect(arbedb_dsn) as stranger, psycopg.connect(arbedb_dsn) as other:
        cur = stranger.cursor()
        set_identity(cur, "authenticated", user_claims(house["stranger"]))
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for function"):
            with stranger.transaction():
                cur.execute("SELECT arbe.assert_keeps_an_owner(%s, %s)", (house["h"], uuid.uuid4()))
        assert cur.execute("UPDATE public.members SET role = 'member' WHERE house_id = %s", (house["h"],)).rowcount == 0
        assert cur.execute("UPDATE public.houses SET name = 'x' WHERE id = %s", (house["h"],)).rowcount == 0
        # The stranger's transaction is still open here.
        other.execute("SET lock_timeout = '2s'")
        other.execute("SELECT FROM public.houses WHERE id = %s FOR UPDATE NOWAIT", (house["h"],))
        other.execute("SELECT FROM public.members WHERE id = %s FOR UPDATE NOWAIT", (house["membership"],))
        other.rollback()
        stranger.rollback()


def test_trigger_and_policy_helpers_are_not_executable_by_callers(arbedb_conn, house):
    for acting in (as_user(arbedb_conn, house["owner"]), as_user(arbedb_conn, house["stranger"]),
                   as_anon(arbedb_conn)):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for (function|schema)"), \
                acting as cur:
            cur.execute("SELECT arbe.assert_keeps_an_owner(%s, %s)", (house["h"], house["membership"]))
    # The probe that told anyone whether a house exists is gone.
    with pytest.raises(psycopg.errors.UndefinedFunction), as_user(arbedb_conn, house["stranger"]) as cur:
        cur.execute("SELECT arbe.house_has_members(%s)", (house["h"],))


def test_the_creator_helper_answers_only_about_the_callers_own_houses(arbedb_conn, house):
    ask = "SELECT arbe.created_house_has_members(%s)"
    with as_user(arbedb_conn, house["stranger"]) as cur:  # another's house: the same answer as an unknown id
        assert cur.execute(ask, (house["h"],)).fetchone()[0] is False
        assert cur.execute(ask, (uuid.uuid4(),)).fetchone()[0] is False
    with as_user(arbedb_conn, house["owner"]) as cur:  # their own creation: the truth
        assert cur.execute(ask, (house["h"],)).fetchone()[0] is True


def test_the_last_owner_rule_holds_without_callers_holding_execute(arbedb_conn, house):
    """The guard still fires for the caller (through the owner-run trigger):
    refused for the only owner, allowed once there is another."""
    demote = "UPDATE public.members SET role = 'admin' WHERE id = %s"
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="last owner"), \
            as_user(arbedb_conn, house["owner"]) as cur:
        cur.execute(demote, (house["membership"],))
    WorldBuilder(arbedb_conn).member(house["h"], house["stranger"], "owner")
    with as_user(arbedb_conn, house["owner"]) as cur:
        assert cur.execute(demote, (house["membership"],)).rowcount == 1
