"""Worlds for the RLS property tests: how hypothesis describes them, how they are
loaded (as service_role, inside the caller's transaction) and read back.

A WorldSpec is plain data, so a failing example prints as the world it was.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from hypothesis import strategies as st

from ..testing.impersonate import key_claims, user_claims
from ..testing.world import WorldBuilder
from ..permissions import Permissions
from .model import Caller, Row, World, live_key

# ------------------------------------------------------------------ specs

ROLES = ("owner", "admin", "member")


@dataclass(frozen=True)
class HouseSpec:
    creator: int | None  # index of the user in created_by (made owner by the trigger)
    deleted: bool = False
    memberless: bool = False  # the creator's membership removed again: only created_by remains


@dataclass(frozen=True)
class MemberSpec:
    user: int
    house: int
    role: str
    deleted: bool = False


@dataclass(frozen=True)
class RowSpec:
    table: str
    house: int
    parent: int | None = None  # index among the house's agents/environments
    deleted: bool = False
    flag: bool = False  # invites: expired; api_keys: revoked; secrets: has a value
    other: int = 0  # invites: whose email (user index), accepted by them when >= 100
    inviter: int | None = None  # invites: who created it (user index), None for server-made


@dataclass(frozen=True)
class WorldSpec:
    users: int
    houses: tuple[HouseSpec, ...]
    members: tuple[MemberSpec, ...]
    rows: tuple[RowSpec, ...]


# Every world starts from this core in house 0 (owned by user0), so each table,
# role and row state the rules distinguish is present even in the first, smallest
# examples hypothesis tries; the drawn part adds the variety around it.
CORE_MEMBERS = (MemberSpec(1, 0, "admin"), MemberSpec(2, 0, "member"), MemberSpec(3, 0, "admin", deleted=True),
                MemberSpec(4, 0, "owner"))
CORE_ROWS = (
    RowSpec("agents", 0), RowSpec("agents", 0, deleted=True),
    RowSpec("environments", 0), RowSpec("environments", 0, deleted=True),
    RowSpec("threads", 0, parent=0), RowSpec("threads", 0, deleted=True), RowSpec("threads", 0, parent=1),
    RowSpec("configs", 0), RowSpec("configs", 0, parent=1, deleted=True), RowSpec("configs", 0, parent=0),
    RowSpec("secrets", 0, flag=True), RowSpec("secrets", 0, deleted=True, flag=True),
    RowSpec("invites", 0, other=1, inviter=1), RowSpec("invites", 0, deleted=True), RowSpec("invites", 0, other=101),
    RowSpec("invites", 0, flag=True, other=1),
    # Made by the admin who was removed since (user3): it no longer works.
    RowSpec("invites", 0, other=2, inviter=3),
    # Made by a plain member (user2), as an admin demoted since would have: it does not work
    # either, nor once user2 owns a house elsewhere (paths.inviter_elsewhere).
    RowSpec("invites", 0, other=0, inviter=2),
    # For user3, who left house 0: a revoked, an expired and a used invite. Accepting
    # any of these would make them a member again, a change every check sees.
    RowSpec("invites", 0, deleted=True, other=3), RowSpec("invites", 0, flag=True, other=3),
    RowSpec("invites", 0, other=103),
    # And a new one for user3, live: a member who left may come back (sweep._sweep_rejoin).
    RowSpec("invites", 0, other=3),
    RowSpec("api_keys", 0, other=1), RowSpec("api_keys", 0, other=0), RowSpec("api_keys", 0, flag=True, other=1),
    RowSpec("api_keys", 0, deleted=True, other=1),
    # Agent keys: of the live agent 0 (whose thread and config are above), and of the deleted agent 1.
    RowSpec("api_keys", 0, parent=0, other=1), RowSpec("api_keys", 0, parent=1, other=1),
)
# The nine tables' worlds are drawn by hand above; every other declared table (one the
# project added) gets, in the core house, a live and a soft-deleted row under the first
# live row of its first parent, and is drawn like the others.
NINE = ("houses", "members", "agents", "environments", "threads", "configs", "secrets", "invites", "api_keys")


def core_rows(perms: Permissions) -> tuple[RowSpec, ...]:
    added = tuple(t for t in perms.names if t not in NINE)
    return CORE_ROWS + tuple(RowSpec(t, 0, parent=0, deleted=d) for t in added for d in (False, True))


# With two or more houses, house 1 is a soft-deleted one holding live credentials.
CORE_DELETED_HOUSE = HouseSpec(4, deleted=True)
CORE_DELETED_HOUSE_ROWS = (RowSpec("api_keys", 1, other=1), RowSpec("secrets", 1, flag=True),
                           RowSpec("invites", 1, other=1), RowSpec("agents", 1))


@st.composite
def world_specs(draw, perms: Permissions, min_users: int = 1, max_users: int = 8, max_houses: int = 5) -> WorldSpec:
    users = draw(st.integers(min_users, max_users))
    n_houses = draw(st.integers(1, max_houses))
    user = st.integers(0, users - 1)
    drawn = tuple(draw(st.builds(HouseSpec, st.none() | user, st.booleans(), st.booleans()))
                  for _ in range(n_houses - 2))
    houses = ((HouseSpec(0),) + ((CORE_DELETED_HOUSE,) if n_houses > 1 else ()) + drawn)[:n_houses]
    house = st.integers(0, n_houses - 1)
    core_members = tuple(m for m in CORE_MEMBERS if m.user < users)
    members = core_members + tuple(draw(st.lists(
        st.builds(MemberSpec, user, house, st.sampled_from(ROLES), st.booleans()), max_size=12)))
    drawn_tables = [t for t in perms.names if t not in ("houses", "members")]
    rows = core_rows(perms) + (CORE_DELETED_HOUSE_ROWS if n_houses > 1 else ()) + tuple(draw(st.lists(st.builds(
        RowSpec, st.sampled_from(drawn_tables), house, st.none() | st.integers(0, 2), st.booleans(), st.booleans(),
        st.integers(0, 120), st.none() | user), max_size=12)))
    return WorldSpec(users, houses, members, rows)


# ------------------------------------------------------------------ reading a world back

# How the special tables' computed columns are read (the model holds them as these values).
SPECIAL_PROJECTION = {
    # The email as stored: create_invite stores arbe.email_key of what was typed (paths.data_api
    # types it with spaces and in upper case), never the typed text.
    "invites": {"expired": "expires_at <= now()"},
    # revoked_at = now() set again in the same transaction changes nothing, so
    # the model must tell "revoked earlier" from "revoked by this transaction".
    "api_keys": {"revoked": "CASE WHEN revoked_at = now() THEN 'now' WHEN revoked_at IS NOT NULL THEN 'earlier' END",
                 "expired": "coalesce(expires_at <= now(), false)"},
}


def projection(perms: Permissions, table: str) -> str:
    """The SELECT list of a table's rule columns. Ids (``*_id``, ``*_by``) are read as they
    are; every other column as text, which is how the model holds them (and how
    declarations give their values)."""
    rules = perms[table]
    special = SPECIAL_PROJECTION.get(rules.special, {})
    return ", ".join(special.get(c) or (c if c.endswith(("_id", "_by")) else f"{c}::text") for c in rules.columns)


def rows_sql(perms: Permissions, table: str) -> str:
    """Each table as the model sees it, read with the connection's own rights."""
    return f"SELECT id, house_id, deleted_at IS NOT NULL, {projection(perms, table)} FROM public.{table}"


def rows_of(perms: Permissions, table: str, fetched) -> dict[uuid.UUID, Row]:
    return {r[0]: Row(r[0], r[1], r[2], dict(zip(perms[table].columns, r[3:]))) for r in fetched}


def read_world(conn, world: World) -> World:
    perms = world.perms
    with conn.pipeline():  # every read in one round trip
        users = conn.execute("SELECT id, email FROM auth.users")
        tables = {t: conn.execute(rows_sql(perms, t)) for t in perms.names}
    world.users = dict(users.fetchall())
    world.rows = {t: rows_of(perms, t, cur.fetchall()) for t, cur in tables.items()}
    return world


# ------------------------------------------------------------------ loading

def token_hash(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def email_of(user: int) -> str:
    """User i's address. The domain has a `k` so that a caller can present it
    with the Kelvin sign U+212A instead (see callers())."""
    return f"user{user}@work.example"


# When the loaded rows were made and last changed: before the run's transaction, so that
# now() (which never moves inside it) tells a row a write changed from one it did not
# (checks.check_write). Neither the server's now() nor a client's clock (writes.CLIENT_TIME).
LOADED = "2001-01-01T00:00:00Z"


def load(conn, spec: WorldSpec, perms: Permissions) -> World:
    """Insert the world as service_role; returns the model of what was loaded.
    In a pipeline: the inserts need no answer, so they travel together, and only
    the membership look-ups wait for one (an error surfaces there or at the end)."""
    world = World(perms, secrets_sealable=conn.execute("SELECT arbe_private.secrets_sealable()").fetchone()[0])
    with conn.pipeline():
        _insert_world(conn, spec, world)
    return read_world(conn, world)


def _insert_world(conn, spec: WorldSpec, world: World) -> None:
    rng = random.Random(0)  # same spec, same ids: hypothesis replays a world exactly
    w = WorldBuilder(conn, new_id=lambda: uuid.UUID(int=rng.getrandbits(128), version=4), switch_role=False)
    now = datetime.now(timezone.utc)
    past, future = now - timedelta(days=1), now + timedelta(days=7)
    users = [w.user(email_of(i)) for i in range(spec.users)]
    born = {"created_at": LOADED, "updated_at": LOADED}  # service_role's own stamps are kept
    credentials = []  # written after the rows, as the connection's own (owner) role
    conn.execute("SET LOCAL ROLE service_role")
    houses = []
    for h in spec.houses:
        creator = users[h.creator] if h.creator is not None and h.creator < len(users) else None
        hid = w.house(f"house {len(houses)}", created_by=creator, deleted_at=now if h.deleted else None, **born)
        if h.memberless:
            # Deleting a live house's last owner soft-deletes it (triggers/40_guards.sql);
            # service_role restores it, which is how such a house can exist.
            conn.execute("DELETE FROM public.members WHERE house_id = %s", (hid,))
            conn.execute("UPDATE public.houses SET deleted_at = %s WHERE id = %s", (now if h.deleted else None, hid))
        houses.append(hid)
    for m in spec.members:
        if not m.deleted and conn.execute(
                "SELECT 1 FROM public.members WHERE house_id = %s AND user_id = %s AND deleted_at IS NULL",
                (houses[m.house], users[m.user])).fetchone():
            continue  # one live membership per user and house
        w.member(houses[m.house], users[m.user], m.role, deleted_at=now if m.deleted else None, **born)
    parents: dict[tuple[str, int], list[uuid.UUID]] = {}
    perms = world.perms
    # Parents before children: a table with children and no parent first, then by depth.
    order = {t: perms.depth(t) or (0 if perms.children_of(t) else 1) for t in perms.names}
    for r in sorted(spec.rows, key=lambda r: order[r.table]):
        house = houses[r.house]
        n = len(parents.get((r.table, r.house), []))
        if r.table not in NINE:
            values = _added_row(perms[r.table], r, n, parents, now)
            if values is not None:
                row_id = w.row(r.table, house, **values, **born)
                parents.setdefault((r.table, r.house), []).append(row_id)
            continue
        values = {"deleted_at": now if r.deleted else None,
                  "key": f"key-{n}" if r.table == "configs" else None,  # unique per house and owner
                  "name": f"{r.table}-{n}" if r.table != "threads" and r.table != "configs" else None}
        if r.table in ("threads", "configs", "api_keys", "secrets") and r.parent is not None:
            kind = "environments" if r.table == "secrets" or (r.table != "api_keys" and r.parent % 2) else "agents"
            options = parents.get((kind, r.house), [])
            if options:
                values["environment_id" if kind == "environments" else "agent_id"] = options[r.parent % len(options)]
        if r.table == "invites":
            values.pop("name")
            values.update(email=email_of(r.other % spec.users), role=("member", "admin")[r.other % 2],
                          expires_at=past if r.flag else future)
            if r.other >= 100:
                values.update(accepted_at=now, accepted_by=users[r.other % spec.users])
            if r.inviter is not None:
                values.update(invited_by=users[r.inviter % spec.users])
        if r.table == "api_keys":
            values.update(revoked_at=past if r.flag else None, expires_at=past if r.other % 3 == 0 else None)
        row_id = w.row(r.table, house, **{k: v for k, v in values.items() if v is not None}, **born)
        parents.setdefault((r.table, r.house), []).append(row_id)
        credentials.append((r, row_id))
    conn.execute("RESET ROLE")
    for r, row_id in credentials:
        _credential_for(conn, world, r, row_id)


def _added_row(rules, r: RowSpec, n: int, parents: dict, now) -> dict | None:
    """A row of a table the project added: its declared values, under one of its parents
    (the drawn one); None when the house has no row of that parent to hang it under."""
    tag = f"{r.house:02x}{n:06x}"
    values = {k: v.replace("{tag}", tag) if isinstance(v, str) else v for k, v in rules.values.items()}
    if r.deleted:
        values["deleted_at"] = now
    if rules.parents:
        column, parent = rules.parents[(r.parent or 0) % len(rules.parents)]
        options = parents.get((parent, r.house), [])
        if not options:
            return None
        values[column] = options[(r.parent or 0) % len(options)]
    return values


def _credential_for(conn, world: World, spec: RowSpec, row_id: uuid.UUID) -> None:
    """The plaintext the tests hold for a loaded invite, API key or secret."""
    if spec.table == "invites":
        token = f"token-{row_id.hex}"
        conn.execute("INSERT INTO arbe_private.invite_tokens VALUES (%s, %s)", (row_id, token_hash(token)))
        world.tokens[token] = row_id
    elif spec.table == "api_keys":
        key = f"arbe_key{row_id.hex}"
        conn.execute("INSERT INTO arbe_private.api_key_hashes VALUES (%s, %s)", (row_id, token_hash(key)))
        world.keys[key] = row_id
    elif spec.table == "secrets" and spec.flag and world.secrets_sealable:
        conn.execute("SELECT arbe_private.store_secret(%s, %s)", (row_id, f"value-{row_id.hex[:6]}"))  # sealed
        world.secret_values[row_id] = f"value-{row_id.hex[:6]}"


# ------------------------------------------------------------------ callers

BROKEN_CLAIMS = {
    "no claims": None,
    "malformed": "{not json",
    "non-uuid sub": '{"sub":"alice","role":"authenticated"}',
    # A key id that is no uuid: nobody, never a cast error.
    "malformed key id": '{"role":"authenticated","arbe_api_key_id":"key-1"}',
}
# Beside a (live) key id, a sub that names no user still makes the claims nobody's:
# present at all counts (docs/model.md §2).
SUB_BESIDE_KEY = {"JSON-null sub and key": None, "non-uuid sub and key": "alice"}


KELVIN = "\u212a"  # lower() under a Unicode-aware collation makes it `k`


def callers(world: World) -> list[Caller]:
    """Every user (some with their email in another ASCII case), user1 again
    with a JWT email that only Unicode case folding would match, every API key
    of the world (live or dead: the claims name it either way), anon, and
    nobodies."""
    out = []
    for i, (user, email) in enumerate(sorted(world.users.items(), key=lambda kv: kv[1])):
        out.append(Caller(f"user{i}", user, email.upper() if i % 2 else email))
        if i == 1 and "k" in email:  # user1 holds a live invite in every world's core
            out.append(Caller("user1 with a Kelvin-sign email", user, email.replace("k", KELVIN)))
    keys = sorted(world.rows["api_keys"].values(), key=lambda r: str(r.key()))
    out += [Caller(f"key{i} ({'agent' if k.data['agent_id'] else 'house-wide'})", api_key_id=k.id)
            for i, k in enumerate(keys)]
    out.append(Caller("anon", anon=True))
    out += [Caller(label, claims=claims) for label, claims in BROKEN_CLAIMS.items()]
    if world.users:
        some_user = min(world.users)
        forged = json.dumps({**user_claims(some_user), "role": "service_role"})
        out.append(Caller("service_role claim", claims=forged))
        if keys:  # a user's sub beside a (live, if any) key: neither, nobody
            key = next((k for k in keys if live_key(world, k.id)), keys[0])
            out.append(Caller("sub and key", claims=json.dumps({**user_claims(some_user), **key_claims(key.id)})))
            out += [Caller(label, claims=json.dumps({**key_claims(key.id), "sub": sub}), probed=False)
                    for label, sub in SUB_BESIDE_KEY.items()]
    return out
