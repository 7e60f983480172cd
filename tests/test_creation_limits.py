"""What one signed-in caller can create is bounded (triggers/45_limits.sql): houses
per user, invites and API keys per member of a house and per house, each per 24
hours; server code is not. One member's use cannot deny the others: the house's
count leaves out creators who are no longer a live admin or owner of it."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from arbedb.testing.impersonate import acting_as, as_service, user_claims
from arbedb.testing.world import WorldBuilder

HOUSES_PER_DAY, PER_MEMBER, PER_HOUSE = 20, 100, 500  # invites and keys: per member of a house, per house


def as_caller(conn, user):
    return acting_as(conn, "authenticated", user_claims(user, "o@example.com"), keep=True)


def make_houses(conn, user, n: int) -> None:
    with as_caller(conn, user) as cur:
        for _ in range(n):
            cur.execute("INSERT INTO public.houses (id, name) VALUES (%s, 'h')", (uuid.uuid4(),))


def test_a_user_creates_at_most_a_bounded_number_of_houses_a_day(arbedb_conn):
    w = WorldBuilder(arbedb_conn)
    alice, bob = w.user("a@example.com"), w.user("b@example.com")
    make_houses(arbedb_conn, alice, HOUSES_PER_DAY)
    with pytest.raises(psycopg.errors.ProgramLimitExceeded, match="at most 20 houses .* per user"):
        make_houses(arbedb_conn, alice, 1)
    make_houses(arbedb_conn, bob, 1)  # another user's own count
    with as_service(arbedb_conn) as cur:  # server code is not limited
        cur.execute("INSERT INTO public.houses (id, name, created_by) VALUES (%s, 'h', %s)", (uuid.uuid4(), alice))
    # A day later the window has moved on (created_at is the server's time on insert).
    arbedb_conn.execute("SET session_replication_role = replica")  # past the immutability guard
    arbedb_conn.execute("UPDATE public.houses SET created_at = created_at - interval '25 hours' WHERE created_by = %s",
                        (alice,))
    arbedb_conn.execute("SET session_replication_role = origin")
    make_houses(arbedb_conn, alice, 1)


CREATE = {
    "invites": "SELECT arbe.create_invite(%s, 'x@example.com', 'member')",
    "api_keys": "SELECT arbe.create_api_key(%s, NULL, 'k')",
}
CREATOR = {"invites": "invited_by", "api_keys": "created_by"}


def create(conn, user, table: str, house, n: int = 1) -> None:
    with as_caller(conn, user) as cur:
        for _ in range(n):
            cur.execute(CREATE[table], (house,))


def revoke_everything(conn, owner) -> None:
    """What the owner does after an abuse: every invite and key of the house goes."""
    with as_caller(conn, owner) as cur:
        cur.execute("UPDATE public.invites SET deleted_at = now() WHERE deleted_at IS NULL")
        cur.execute("UPDATE public.api_keys SET revoked_at = now() WHERE revoked_at IS NULL")


def made_by(conn, table: str, house, creators, each: int) -> None:
    """`each` rows of the house by each creator (NULL: server code), written by the
    test's own role, which the limit does not count as a caller."""
    extra = {"invites": ("email, role", "'x@example.com', 'member'"),
             "api_keys": ("name, prefix", "'k', md5(random()::text)")}
    cols, values = extra[table]
    conn.execute(f"INSERT INTO public.{table} (house_id, {CREATOR[table]}, {cols}) "
                 f"SELECT %s, c, {values} FROM unnest(%s::uuid[]) AS c, generate_series(1, %s)",
                 (house, list(creators), each))


@pytest.mark.parametrize("table", CREATE)
def test_a_member_creates_a_bounded_number_of_invites_and_keys_a_day(arbedb_conn, table):
    w = WorldBuilder(arbedb_conn)
    owner, admin = w.user("o@example.com"), w.user("a@example.com")
    house, other = w.house("Acme", created_by=owner), w.house("Other", created_by=owner)
    w.member(house, admin, "admin")
    create(arbedb_conn, owner, table, house, PER_MEMBER)
    # Revoking does not give the slots back: a create-and-revoke loop stays bounded.
    revoke_everything(arbedb_conn, owner)
    with pytest.raises(psycopg.errors.ProgramLimitExceeded,
                       match=f"at most {PER_MEMBER} .* per member of a house in 24 hours"):
        create(arbedb_conn, owner, table, house)
    create(arbedb_conn, admin, table, house)  # another member's own count
    create(arbedb_conn, owner, table, other)  # another house's own count


def test_an_admin_cannot_lock_the_owner_out_of_keys_and_invites(arbedb_conn):
    """Issue 18 item 7: one admin uses everything they may; the owner removes them and
    revokes everything, and must be able to create a key and an invite at once."""
    w = WorldBuilder(arbedb_conn)
    owner, admin = w.user("o@example.com"), w.user("a@example.com")
    house = w.house("Acme", created_by=owner)
    w.member(house, admin, "admin")
    for table in CREATE:
        create(arbedb_conn, admin, table, house, PER_MEMBER)
        with pytest.raises(psycopg.errors.ProgramLimitExceeded, match="per member of a house"):
            create(arbedb_conn, admin, table, house)  # denied: the admin is over their own limit
    with as_caller(arbedb_conn, owner) as cur:
        cur.execute("UPDATE public.members SET deleted_at = now() WHERE house_id = %s AND user_id = %s",
                    (house, admin))
    revoke_everything(arbedb_conn, owner)
    for table in CREATE:
        create(arbedb_conn, owner, table, house)  # allowed: the owner is not locked out
    # Taken back in, the admin has not got their allowance back.
    w.member(house, admin, "admin")
    for table in CREATE:
        with pytest.raises(psycopg.errors.ProgramLimitExceeded, match="per member of a house"):
            create(arbedb_conn, admin, table, house)


@pytest.mark.parametrize("table", CREATE)
def test_the_house_count_leaves_out_creators_who_lost_their_standing(arbedb_conn, table):
    """The house's count bounds what its creators make together; an admin demoted or
    removed stops counting, and so does server code (no creator)."""
    w = WorldBuilder(arbedb_conn)
    owner = w.user("o@example.com")
    house = w.house("Acme", created_by=owner)
    admins = [w.user(f"a{n}@example.com") for n in range(PER_HOUSE // PER_MEMBER)]
    for admin in admins:
        w.member(house, admin, "admin")
    made_by(arbedb_conn, table, house, [None], PER_HOUSE)
    made_by(arbedb_conn, table, house, admins, PER_MEMBER)
    with pytest.raises(psycopg.errors.ProgramLimitExceeded, match=f"at most {PER_HOUSE} .* per house in 24 hours"):
        create(arbedb_conn, owner, table, house)  # denied: the house is full, the owner's own count is 0
    with as_caller(arbedb_conn, owner) as cur:
        cur.execute("UPDATE public.members SET role = 'member' WHERE house_id = %s AND user_id = %s",
                    (house, admins[0]))
    create(arbedb_conn, owner, table, house)  # allowed: the demoted admin's rows no longer count


def test_two_concurrent_creations_cannot_both_take_the_last_slot(arbedb_dsn, arbedb_conn):
    """Two transactions of one user at READ COMMITTED, one house short of the
    limit: the second waits for the first (observed in pg_blocking_pids), then
    counts its house and is refused. (At REPEATABLE READ or SERIALIZABLE the
    second's snapshot predates the wait: see docs/decisions.md.)"""
    from concurrency import Step, overlap

    alice = WorldBuilder(arbedb_conn).user("a@example.com")
    arbedb_conn.commit()
    make_houses(arbedb_conn, alice, HOUSES_PER_DAY - 1)
    arbedb_conn.commit()
    insert = "INSERT INTO public.houses (id, name) VALUES (gen_random_uuid(), 'h')"
    step = Step("authenticated", user_claims(alice), insert)
    got = overlap(arbedb_dsn, step, step, ("read committed", "read committed"))
    assert (got.first, got.second, got.second_waited) == ("ok", "54000", True)
    assert arbedb_conn.execute("SELECT count(*) FROM public.houses WHERE created_by = %s",
                               (alice,)).fetchone()[0] == HOUSES_PER_DAY


def test_two_members_cannot_both_take_the_last_slot_of_a_house(arbedb_dsn, arbedb_conn):
    """Both counts of a house are taken under the house's one slot row: two admins'
    creations, one short of the house's limit, queue and the second is refused."""
    from concurrency import Step, overlap

    w = WorldBuilder(arbedb_conn)
    owner, first, second = w.user("o@example.com"), w.user("a@example.com"), w.user("b@example.com")
    house = w.house("Acme", created_by=owner)
    filler = [w.user(f"f{n}@example.com") for n in range(PER_HOUSE // PER_MEMBER)]
    for admin in (first, second, *filler):
        w.member(house, admin, "admin")
    made_by(arbedb_conn, "api_keys", house, filler[:-1], PER_MEMBER)
    made_by(arbedb_conn, "api_keys", house, filler[-1:], PER_MEMBER - 1)  # one short of the house's limit
    arbedb_conn.commit()
    create_key = "SELECT arbe.create_api_key(%s, NULL, 'k')"
    got = overlap(arbedb_dsn, Step("authenticated", user_claims(first), create_key, (house,)),
                  Step("authenticated", user_claims(second), create_key, (house,)),
                  ("read committed", "read committed"))
    assert (got.first, got.second, got.second_waited) == ("ok", "54000", True)
