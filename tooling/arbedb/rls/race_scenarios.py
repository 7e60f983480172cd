"""The races the schema serialises, as data: two callers' statements over a fresh
committed world, and what must hold once both are done, at all nine pairs of
isolation levels. tests/test_concurrency_*.py and tests/test_creation_slots.py
run them one by one; `rls-test --mutate` runs them against the lock mutants
(lock_mutants.py), which no single transaction can tell from the schema as written.

- last owner: two owners demoting or removing each other (or a hard delete racing
  a demotion) leave the live house a live owner (arbe.assert_keeps_an_owner);
- membership liveness: a membership becoming live while its house is soft-deleted
  or restored ends up with the house's liveness (arbe.lock_house);
- key liveness: a key starting to act while its house or agent is soft-deleted or
  restored ends up with their liveness (arbe.lock_house, arbe.lock_agent);
- creation slots: two creations by a user one short of the limit leave at most the
  limit (the slot row of triggers/45_limits.sql);
- thread ids: a thread id inserted and hard-deleted in one house while another
  house inserts it never ends up naming a thread of the second (the registry of
  triggers/27_thread_ids.sql).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Callable

import psycopg

from ..testing.impersonate import AUTHENTICATED, SERVICE, set_identity, user_claims
from ..testing.world import WorldBuilder
from .races import Step, races_broken
from .sealing import Unseen

SERVICE_CLAIMS = {"role": SERVICE}


@dataclass(frozen=True)
class Race:
    group: str
    name: str
    make: Callable  # conn -> (first Step, second Step, world); the world committed
    wrong: Callable  # (conn, world) -> what is wrong once both are done (empty: nothing)
    allowed: frozenset  # outcomes besides the retryable ones
    order: str = "wait"  # "wait": the second runs while the first is open; "stale": after it committed
    waits_on: str | None = None  # in order "wait": what the second must be seen waiting on


def broken(dsn: str, conn, race: Race, *, stop: bool = False) -> list[str]:
    """What broke at each pair of levels (``stop``: the first pair only); ``conn`` builds the worlds."""
    def wrong(world):
        try:
            return race.wrong(conn, world)
        finally:
            conn.rollback()

    return races_broken(dsn, lambda: race.make(conn), wrong, race.order, set(race.allowed), race.waits_on,
                        stop=stop)


def check(dsn: str, groups: tuple[str, ...] = ()) -> None:
    """Raise Unseen on the first race (of ``groups``, default all) that breaks."""
    with psycopg.connect(dsn) as conn:
        for race in RACES:
            if groups and race.group not in groups:
                continue
            found = broken(dsn, conn, race, stop=True)
            if found:
                raise Unseen(f"race {race.group}: {race.name}: {found[0]}")


def _as(user, statement: str, *params, email: str | None = None) -> Step:
    return Step(AUTHENTICATED, user_claims(user, email), statement, params)


def _service(statement: str, *params) -> Step:
    return Step(SERVICE, SERVICE_CLAIMS, statement, params)


def _both_orders(group, name, make, wrong, allowed, waits_on, swap=None):
    """The race in order "wait" and "stale"; with ``swap`` ("x first", "y first"), each side first."""
    out = []
    for order in ("wait", "stale"):
        for first in ((None,) if swap is None else swap):
            def ordered(conn, first=first):
                one, two, world = make(conn)
                return (two, one, world) if swap and first == swap[1] else (one, two, world)
            label = f"{name}, {order}" + (f", {first}" if first else "")
            out.append(Race(group, label, ordered, wrong, frozenset(allowed), order, waits_on))
    return out


# ---------------------------------------------------------------- last owner

DEMOTE = "UPDATE public.members SET role = 'admin' WHERE house_id = %s AND user_id = %s"
REMOVE = "UPDATE public.members SET deleted_at = now() WHERE house_id = %s AND user_id = %s"
HARD_DELETE = "DELETE FROM public.members WHERE house_id = %s AND user_id = %s"
GUARD = "42501"
OWNER_CHANGES = {"demote vs remove": (DEMOTE, REMOVE), "remove vs demote": (REMOVE, DEMOTE),
                 "demote vs demote": (DEMOTE, DEMOTE), "remove vs remove": (REMOVE, REMOVE)}


def two_owner_house(conn):
    w = WorldBuilder(conn)
    a, b = w.user(), w.user()
    house = w.house("two owners", created_by=a)
    w.member(house, b, "owner")
    conn.commit()
    return house, a, b


def live_owners(conn, house) -> int:
    return conn.execute("SELECT count(*) FROM public.members AS m JOIN public.houses AS h ON h.id = m.house_id "
                        "WHERE m.house_id = %s AND m.role = 'owner' AND m.deleted_at IS NULL "
                        "AND h.deleted_at IS NULL", (house,)).fetchone()[0]


def _ownerless(conn, house) -> list:
    live = conn.execute("SELECT deleted_at IS NULL FROM public.houses WHERE id = %s", (house,)).fetchone()[0]
    return ["a live house without a live owner"] if live and live_owners(conn, house) < 1 else []


def _owner_change(first_sql, second_sql):
    def make(conn):
        house, a, b = two_owner_house(conn)
        return _as(a, first_sql, house, b), _as(b, second_sql, house, a), house
    return make


def _delete_vs_demote(conn):
    house, a, b = two_owner_house(conn)
    return _as(a, DEMOTE, house, b), _service(HARD_DELETE, house, a), house


LAST_OWNER = [race for name, (one, two) in OWNER_CHANGES.items()
              for race in _both_orders("last owner", name, _owner_change(one, two), _ownerless, {"ok", GUARD},
                                       "house row")]
LAST_OWNER += _both_orders("last owner", "hard delete vs demote", _delete_vs_demote, _ownerless, {"ok", GUARD}, None)

# ---------------------------------------------------------------- membership liveness

DELETE_HOUSE = "UPDATE public.houses SET deleted_at = now() WHERE id = %s"
RESTORE_HOUSE = "UPDATE public.houses SET deleted_at = NULL WHERE id = %s"
ADD_MEMBER = "INSERT INTO public.members (house_id, user_id, role) VALUES (%s, %s, 'admin')"
INVITE_REFUSED = "22023"  # accept_invite on a house already gone


def stale_memberships(conn, house) -> list:
    """Live memberships whose copy disagrees with the house."""
    return conn.execute(
        "SELECT m.user_id, m.house_deleted_at, h.deleted_at FROM public.members AS m "
        "JOIN public.houses AS h ON h.id = m.house_id "
        "WHERE m.house_id = %s AND m.deleted_at IS NULL AND m.house_deleted_at IS DISTINCT FROM h.deleted_at",
        (house,)).fetchall()


def _membership_world(conn, deleted: bool):
    """A house (live or soft-deleted), its owner, a newcomer and an invite for them,
    and a member who left."""
    w = WorldBuilder(conn)
    owner, newcomer = w.user("owner@example.com"), w.user("new@example.com")
    house = w.house("h", created_by=owner)
    w.member(house, w.user("left@example.com"), "member", deleted_at="2020-01-01")
    with conn.cursor() as cur:
        set_identity(cur, AUTHENTICATED, user_claims(owner))
        token = cur.execute("SELECT arbe.create_invite(%s, 'new@example.com', 'admin')", (house,)).fetchone()[0]
    conn.commit()
    if deleted:
        conn.execute("UPDATE public.houses SET deleted_at = now() WHERE id = %s", (house,))
        conn.commit()
    return house, owner, newcomer, token


def _membership_race(kind):
    def make(conn):
        house, owner, newcomer, token = _membership_world(conn, deleted=kind == "restore vs insert")
        house_side = (_as(owner, DELETE_HOUSE, house) if kind != "restore vs insert"
                      else _service(RESTORE_HOUSE, house))
        if kind == "delete vs accept_invite":
            member_side = _as(newcomer, "SELECT arbe.accept_invite(%s)", token, email="new@example.com")
        elif kind == "delete vs membership restore":
            member_side = _service("UPDATE public.members SET deleted_at = NULL "
                                   "WHERE house_id = %s AND deleted_at IS NOT NULL AND user_id <> %s", house, newcomer)
        else:
            member_side = _service(ADD_MEMBER, house, newcomer)
        return house_side, member_side, house
    return make


MEMBERSHIP_KINDS = ("delete vs accept_invite", "delete vs insert", "restore vs insert", "delete vs membership restore")
MEMBERSHIP_LIVENESS = [race for kind in MEMBERSHIP_KINDS for race in _both_orders(
    "membership liveness", kind, _membership_race(kind), stale_memberships, {"ok", INVITE_REFUSED}, "house row",
    swap=("house first", "membership first"))]

# ---------------------------------------------------------------- key liveness

KEY_REFUSED = {"42501", "23503"}  # create_api_key's own refusals once the house or agent is gone
DELETE_AGENT = "UPDATE public.agents SET deleted_at = now() WHERE id = %s"
RESTORE_AGENT = "UPDATE public.agents SET deleted_at = NULL WHERE id = %s"
RESTORE_KEY = "UPDATE public.api_keys SET deleted_at = NULL WHERE id = %s"
MOVE_KEY = "UPDATE public.api_keys SET agent_id = %s WHERE id = %s"
CREATE_KEY = "SELECT arbe.create_api_key(%s, %s, 'new')"
INSERT_KEY = "INSERT INTO public.api_keys (house_id, agent_id, name, prefix) VALUES (%s, %s, 'new', %s)"


def stale_keys(conn, house) -> list:
    """Keys not soft-deleted whose copies disagree with their house or agent."""
    return conn.execute(
        "SELECT k.name, k.house_deleted_at, h.deleted_at, k.agent_deleted_at, a.deleted_at "
        "FROM public.api_keys AS k JOIN public.houses AS h ON h.id = k.house_id "
        "LEFT JOIN public.agents AS a ON a.house_id = k.house_id AND a.id = k.agent_id "
        "WHERE k.house_id = %s AND k.deleted_at IS NULL "
        "AND (k.house_deleted_at IS DISTINCT FROM h.deleted_at OR k.agent_deleted_at IS DISTINCT FROM a.deleted_at)",
        (house,)).fetchall()


def _key_world(conn):
    """A live house with its owner, a live agent, a soft-deleted agent, a
    house-wide key and a soft-deleted key of each agent."""
    w = WorldBuilder(conn)
    owner = w.user("owner@example.com")
    house = w.house("h", created_by=owner)
    live, dead = w.row("agents", house), w.row("agents", house, deleted_at="2020-01-01")
    house_wide = w.row("api_keys", house, name="house-wide")
    gone = {a: w.row("api_keys", house, agent_id=a, name="deleted", deleted_at="2020-01-01") for a in (live, dead)}
    conn.commit()
    return house, owner, live, dead, house_wide, gone


def _insert_key(house, agent) -> Step:
    return _service(INSERT_KEY, house, agent, uuid.uuid4().hex[:12])  # prefix is unique


# kind -> (the house's or agent's write, the key's write), from the world's parts.
KEY_KINDS = {
    "house delete vs create_api_key": lambda h, o, live, dead, hw, gone: (
        _as(o, DELETE_HOUSE, h), _as(o, CREATE_KEY, h, live)),
    "house delete vs key restore": lambda h, o, live, dead, hw, gone: (
        _as(o, DELETE_HOUSE, h), _service(RESTORE_KEY, gone[live])),
    "agent delete vs create_api_key": lambda h, o, live, dead, hw, gone: (
        _as(o, DELETE_AGENT, live), _as(o, CREATE_KEY, h, live)),
    "agent delete vs key insert": lambda h, o, live, dead, hw, gone: (
        _as(o, DELETE_AGENT, live), _insert_key(h, live)),
    "agent delete vs key restore": lambda h, o, live, dead, hw, gone: (
        _as(o, DELETE_AGENT, live), _service(RESTORE_KEY, gone[live])),
    "agent delete vs key moved to it": lambda h, o, live, dead, hw, gone: (
        _as(o, DELETE_AGENT, live), _service(MOVE_KEY, live, hw)),
    "agent restore vs key insert": lambda h, o, live, dead, hw, gone: (
        _service(RESTORE_AGENT, dead), _insert_key(h, dead)),
}


def _key_race(kind):
    def make(conn):
        parts = _key_world(conn)
        return (*KEY_KINDS[kind](*parts), parts[0])
    return make


KEY_LIVENESS = [race for kind in KEY_KINDS for race in _both_orders(
    "key liveness", kind, _key_race(kind), stale_keys, {"ok"} | KEY_REFUSED, "house or agent row",
    swap=("house or agent first", "key first"))]

# ---------------------------------------------------------------- creation slots

HOUSES_PER_USER = 20  # triggers/45_limits.sql: houses_limit_creation
CREATE_HOUSE = "INSERT INTO public.houses (id, name) VALUES (gen_random_uuid(), 'h')"
LIMIT = "54000"


def _one_short(conn):
    """A user who created one house fewer than the limit today, their slot row already there."""
    w = WorldBuilder(conn)
    user = w.user()
    for n in range(HOUSES_PER_USER - 1):
        w.house(f"h{n}", created_by=user)
    conn.execute("INSERT INTO arbe_private.creation_slots (scope, id) VALUES ('houses', %s)", (user,))
    conn.commit()
    step = _as(user, CREATE_HOUSE)
    return step, step, user


def _over_the_limit(conn, user) -> list:
    made = conn.execute("SELECT count(*) FROM public.houses WHERE created_by = %s", (user,)).fetchone()[0]
    return [f"{made} houses created, the limit is {HOUSES_PER_USER}"] if made > HOUSES_PER_USER else []


CREATION_SLOTS = _both_orders("creation slots", "two houses one short of the limit", _one_short, _over_the_limit,
                              {"ok", LIMIT}, "creation slot")

# ---------------------------------------------------------------- thread ids

TAKEN = "23505"  # the primary key's refusal, which the registry's reads like


def _used_and_gone(conn):
    """Server code inserts a thread and hard-deletes it in one transaction while an
    outsider inserts a thread with the same id in their own house."""
    w = WorldBuilder(conn)
    owner, outsider = w.user(), w.user()
    home, away = w.house("home", created_by=owner), w.house("away", created_by=outsider)
    conn.commit()
    tid = uuid.uuid4()
    used = _service(f"DO $$ BEGIN INSERT INTO public.threads (id, house_id, kind, status) VALUES ('{tid}', '{home}', "
                    f"'chat', 'open'); DELETE FROM public.threads WHERE id = '{tid}'; END $$")
    taken = _as(outsider, "INSERT INTO public.threads (id, house_id, kind, status, created_by) "
                "VALUES (%s, %s, 'chat', 'open', %s)", tid, away, outsider)
    return used, taken, tid


def _renamed(conn, tid) -> list:
    """A live thread with the id in another house than the one the id was first used in."""
    return conn.execute("SELECT t.house_id, r.house_id FROM public.threads AS t "
                        "JOIN arbe_private.thread_ids AS r ON r.id = t.id "
                        "WHERE t.id = %s AND t.house_id <> r.house_id", (tid,)).fetchall()


THREAD_IDS = _both_orders("thread ids", "an id used and hard-deleted vs an outsider's insert", _used_and_gone,
                          _renamed, {"ok", TAKEN}, None)

RACES = LAST_OWNER + MEMBERSHIP_LIVENESS + KEY_LIVENESS + CREATION_SLOTS + THREAD_IDS
GROUPS = tuple(dict.fromkeys(r.group for r in RACES))

