"""The creation limits serialise on rows no caller can lock (arbe_private.creation_slots,
triggers/45_limits.sql), not on advisory locks: pg_advisory_xact_lock is open to every
role and its keys were computable, so a user in no house could stall another user's
house creation, or another house's invites and keys, for as long as they kept a
transaction open. Two connections: the attacker's transaction holds every key the old
scheme used while the victim creates."""

from __future__ import annotations

import psycopg
import pytest
from concurrency import Step, overlap

from arbedb.rls import race_scenarios as races
from arbedb.testing.impersonate import acting_as, user_claims
from arbedb.testing.world import WorldBuilder

OLD_KEYS = ("SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(k, 0)) "
            "FROM pg_catalog.unnest(%s::pg_catalog.text[]) AS k")
CREATE = {
    "houses": "INSERT INTO public.houses (id, name) VALUES (gen_random_uuid(), 'h')",
    "invites": "SELECT arbe.create_invite(%s, 'x@example.com', 'member')",
    "api_keys": "SELECT arbe.create_api_key(%s, NULL, 'k')",
}


@pytest.fixture
def victim(arbedb_conn):
    w = WorldBuilder(arbedb_conn)
    owner, stranger = w.user("o@example.com"), w.user("s@example.com")
    house = w.house("h", created_by=owner)
    arbedb_conn.commit()
    return owner, stranger, house


@pytest.mark.parametrize("table", CREATE)
def test_a_stranger_holding_the_lock_keys_does_not_stall_a_creation(arbedb_dsn, victim, table):
    owner, stranger, house = victim
    keys = [f"houses:{owner}", f"invites:{house}", f"api_keys:{house}"]
    hold = Step("authenticated", user_claims(stranger), OLD_KEYS, (keys,))
    create = Step("authenticated", user_claims(owner), CREATE[table], () if table == "houses" else (house,))
    got = overlap(arbedb_dsn, hold, create, ("read committed", "read committed"))
    assert (got.first, got.second, got.second_waited) == ("ok", "ok", False)


def test_no_caller_can_lock_or_write_a_creation_slot(arbedb_conn, victim):
    owner, stranger, house = victim
    for statement in ("SELECT FROM arbe_private.creation_slots FOR UPDATE",
                      "INSERT INTO arbe_private.creation_slots VALUES ('houses', gen_random_uuid())"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege), \
                acting_as(arbedb_conn, "authenticated", user_claims(stranger)) as cur:
            cur.execute(statement)


def test_at_repeatable_read_the_second_creation_is_a_serialization_failure(arbedb_dsn, arbedb_conn, victim):
    """The slot is written, not just locked: a REPEATABLE READ creation that waited
    for another cannot count on its older snapshot (40001, the client retries)."""
    owner, _, _ = victim
    step = Step("authenticated", user_claims(owner), CREATE["houses"])
    got = overlap(arbedb_dsn, step, step, ("repeatable read", "repeatable read"))
    assert (got.first, got.second, got.second_waited) == ("ok", "40001", True)


@pytest.mark.parametrize("race", races.CREATION_SLOTS, ids=lambda r: r.name)
def test_two_creations_one_short_of_the_limit_leave_the_limit_at_every_isolation_pair(arbedb_conn, arbedb_dsn, race):
    """The race `rls-test --mutate` runs against the slot's lock mutants (arbedb.rls.race_scenarios)."""
    broken = races.broken(arbedb_dsn, arbedb_conn, race)
    assert not broken, "\n".join(broken)
