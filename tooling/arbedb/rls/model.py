"""The permission matrix of docs/model.md §4, executable: what each caller may see and do.

This is the reference the database is tested against (``arbedb rls-test``). Each
table's rules (who reads, who writes, parents, immutable and updatable columns, what
API keys may do) are the project's declarations (policies/permissions.toml, docs/model.md
§7), carried by every World; what is code here is only what is more than data: house
creation, membership changes and the last owner, the credential functions, key liveness.
When a declaration changes, the property tests show every place the SQL disagrees.

A world is the rows of the declared tables (only the columns the rules look at),
plus the credentials whose plaintext the tests hold: invite tokens, API keys
and secret values. Callers are users (a uuid and a JWT email), API keys (an agent's, or a
house-wide one: the claims name an api_keys row, live or dead), ``anon``, or an
authenticated session whose token is broken (nobody).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from uuid import UUID

from ..permissions import RANK, Permissions

ROLES_ALL = tuple(RANK)


ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def email_key(email: str) -> str:
    """arbe.email_key: spaces trimmed, A-Z lower-cased, nothing else folded
    (str.lower() would fold the Kelvin sign U+212A to "k")."""
    return email.strip(" ").translate(ASCII_LOWER)


@dataclass
class Row:
    id: UUID | None  # None until the database has assigned it (rows made by triggers/functions)
    house_id: UUID
    deleted: bool = False
    data: dict = field(default_factory=dict)

    def key(self) -> tuple:
        return (self.house_id, self.deleted, tuple(sorted((k, str(v)) for k, v in self.data.items())))


@dataclass(frozen=True)
class Caller:
    label: str
    user_id: UUID | None = None  # None: anon or a broken token, i.e. nobody
    email: str | None = None
    anon: bool = False
    claims: str | None = None  # raw request.jwt.claims for broken tokens
    role: str | None = None  # a database role other than anon/authenticated (then nobody too)
    api_key_id: UUID | None = None  # claims naming this api_keys row (docs/model.md §4b); acts only while it is live
    # False: a nobody whose claims differ from another nobody's only in what caller_claims()
    # decides before anything else reads them; its reads and identity are checked, and
    # the sweep's write probes (which would repeat the other nobodies') skip it.
    probed: bool = True


@dataclass
class World:
    perms: Permissions  # the project's declarations: what the rules below read for every table
    users: dict[UUID, str] = field(default_factory=dict)  # id -> email
    rows: dict[str, dict[UUID, Row]] = field(default_factory=dict)
    tokens: dict[str, UUID] = field(default_factory=dict)  # invite token -> invite id
    keys: dict[str, UUID] = field(default_factory=dict)  # api key -> api_keys id
    secret_values: dict[UUID, str] = field(default_factory=dict)
    # False where the server has no sealing key: set_secret then refuses everyone.
    secrets_sealable: bool = True

    def __post_init__(self) -> None:
        for table in self.perms.names:
            self.rows.setdefault(table, {})

    def copy(self) -> World:
        """A twin to change: the declarations shared (they never change during a run), the
        rows copied row by row (a Row's values are ids, strings, booleans: immutable), every
        other field deep-copied. A whole deepcopy cost a tenth of the client's time."""
        twin = copy.copy(self)
        for f in fields(self):
            if f.name == "rows":
                twin.rows = {t: {i: Row(r.id, r.house_id, r.deleted, dict(r.data)) for i, r in rows.items()}
                             for t, rows in self.rows.items()}
            elif f.name != "perms":
                setattr(twin, f.name, copy.deepcopy(getattr(self, f.name)))
        return twin

    # -- membership ----------------------------------------------------------
    def house_live(self, house: UUID) -> bool:
        h = self.rows["houses"].get(house)
        return h is not None and not h.deleted

    def role_in(self, user: UUID | None, house: UUID) -> str | None:
        """arbe.house_role: the user's live membership role in a live house."""
        if user is None or not self.house_live(house):
            return None
        for m in self.rows["members"].values():
            if m.house_id == house and m.data["user_id"] == user and not m.deleted:
                return m.data["role"]
        return None

    def houses_of(self, user: UUID | None, at_least: str = "member") -> set[UUID]:
        return {h for h in self.rows["houses"] if RANK.get(self.role_in(user, h), 0) >= RANK[at_least]}

    def live_owners(self, house: UUID) -> list[Row]:
        return [m for m in self.rows["members"].values()
                if m.house_id == house and m.data["role"] == "owner" and not m.deleted]


# ------------------------------------------------------------------ API keys (docs/model.md §4b)

def live_key(world: World, key_id: UUID | None) -> tuple[UUID, UUID | None] | None:
    """(house, agent) of a key that may act now: not revoked, expired or deleted,
    its house live and its agent (if any) live. Re-checked on every statement."""
    row = world.rows["api_keys"].get(key_id)
    if row is None or row.deleted or row.data["revoked"] or row.data["expired"]:
        return None
    agent = world.rows["agents"].get(row.data["agent_id"])
    if not world.house_live(row.house_id) or (agent is not None and agent.deleted):
        return None
    return row.house_id, row.data["agent_id"]


def _in_scope(world: World, table: str, row: Row, scope: str, agent) -> bool:
    rules = world.perms[table]
    if scope == "house":
        return True
    if scope == "agent":
        return agent is not None and row.data.get(rules.agent_column) == agent
    return all(row.data.get(column) is None for column, _ in rules.parents)  # house_wide


def _key_visible(world: World, scope, table: str) -> set[UUID]:
    """What a key reads: its declared scopes within its house (an agent key's, or a
    house-wide key's, which never has an agent's rows)."""
    if scope is None:
        return set()
    house, agent = scope
    rules = world.perms[table]
    scopes = rules.agent_key.read if agent is not None else rules.house_key.read
    return {r.id for r in world.rows[table].values()
            if r.house_id == house and any(_in_scope(world, table, r, s, agent) for s in scopes)}


def identity(world: World, caller: Caller) -> tuple:
    """(arbe.caller_id(), arbe.caller_key_house_id(), arbe.caller_agent_id()): a user's id,
    or a live key's house and agent; NULLs for everyone else."""
    if caller.api_key_id is not None:
        return (None, *(live_key(world, caller.api_key_id) or (None, None)))
    return (caller.user_id, None, None)


def can_access_thread(world: World, caller: Caller, thread: UUID) -> bool:
    """arbe.can_access_thread: the caller sees the thread and it is live."""
    row = world.rows["threads"].get(thread)
    return row is not None and not row.deleted and thread in visible(world, caller, "threads")


# ------------------------------------------------------------------ SELECT

def visible(world: World, caller: Caller, table: str) -> set[UUID]:
    """The ids of ``table`` the caller's SELECT returns."""
    user = caller.user_id
    if caller.api_key_id is not None:
        return _key_visible(world, live_key(world, caller.api_key_id), table)
    if user is None:
        return set()
    rows = world.rows[table].values()
    if table == "houses":
        # A member sees the house; its creator also sees it while it has no
        # membership at all (the moment of its own INSERT … RETURNING).
        member_of = world.houses_of(user)
        memberless = {h.id for h in rows} - {m.house_id for m in world.rows["members"].values()}
        return {h.id for h in rows if h.id in member_of or (h.data["created_by"] == user and h.id in memberless)}
    if table == "members":
        member_of = world.houses_of(user)
        return {m.id for m in rows if m.data["user_id"] == user or m.house_id in member_of}
    allowed = world.houses_of(user, world.perms[table].read)
    return {r.id for r in rows if r.house_id in allowed}


# ------------------------------------------------------------------ writes

@dataclass(frozen=True)
class Insert:
    table: str
    id: UUID
    house_id: UUID | None
    created_by: UUID | None = None
    parents: tuple[tuple[str, UUID | None], ...] = ()  # (parent column, id) pairs it names

    def parent(self, column: str) -> UUID | None:
        return dict(self.parents).get(column)

    def __repr__(self) -> str:
        parents = "".join(f", {k}={str(v)[:8]}" for k, v in self.parents if v)
        return (f"INSERT {self.table}(house={str(self.house_id)[:8] if self.house_id else None}, "
                f"created_by={str(self.created_by)[:8] if self.created_by else None}{parents})")


@dataclass(frozen=True)
class Update:
    table: str
    row_id: UUID
    column: str
    value: object  # "now" for timestamps

    def __repr__(self) -> str:
        return f"UPDATE {self.table} {str(self.row_id)[:8]} SET {self.column} = {self.value!r}"


@dataclass(frozen=True)
class Delete:
    """A hard DELETE: callers never may (a soft delete is the only delete they have)."""
    table: str
    row_id: UUID

    def __repr__(self) -> str:
        return f"DELETE {self.table} {str(self.row_id)[:8]}"


@dataclass(frozen=True)
class Call:
    function: str
    args: tuple
    # "public": through the Data API wrapper of the same name (policies/70_data_api.sql), which
    # the Supabase clients call; the rules are the same, so the model does not look at it.
    schema: str = "arbe"

    def __repr__(self) -> str:
        via = "public." if self.schema == "public" else ""
        return f"{via}{self.function}({', '.join(str(a)[:12] for a in self.args)})"


def _parent_house(world: World, caller: Caller, table: str, write: Insert) -> UUID | None:
    """house_id after the inheriting trigger: the first parent, in trigger order,
    that the caller can see lends its house (the trigger looks parents up as the caller)."""
    if write.house_id is not None:
        return write.house_id
    for column, parent_table in world.perms[table].parents:
        parent = write.parent(column)
        if parent is not None and parent in visible(world, caller, parent_table):
            return world.rows[parent_table][parent].house_id
    return None


def _same_house_parents(world: World, table: str, house: UUID, values: dict) -> bool:
    """The composite foreign keys: every parent a row names is in the row's house."""
    for column, parent_table in world.perms[table].parents:
        parent = values.get(column)
        if parent is not None and world.rows[parent_table][parent].house_id != house:
            return False
    return True


def _key_insert_allowed(world: World, caller: Caller, w: Insert) -> bool:
    """A key inserts only where its declaration lets it, rows of its own agent, with no
    author (a key is not a user)."""
    scope = live_key(world, caller.api_key_id)
    rules = world.perms[w.table]
    if scope is None or not rules.agent_key.insert or w.id in world.rows[w.table] or w.created_by is not None:
        return False
    house = _parent_house(world, caller, w.table, w)
    agent = w.parent(rules.agent_column)
    return ((house, agent) == scope and agent is not None and all(w.parent(c) for c in rules.required)
            and _same_house_parents(world, w.table, house, dict(w.parents)))


def _insert_allowed(world: World, caller: Caller, w: Insert) -> bool:
    user = caller.user_id
    if caller.api_key_id is not None:
        return _key_insert_allowed(world, caller, w)
    rules = world.perms[w.table]
    if user is None or not rules.direct or w.id in world.rows[w.table]:
        return False  # nobody, a function-only table, or the primary key is taken
    if w.table == "houses":
        return w.created_by in (None, user)
    house = _parent_house(world, caller, w.table, w)
    if house is None or house not in world.houses_of(user, rules.write):
        return False
    if any(w.parent(c) is None for c in rules.required):
        return False  # NOT NULL
    if rules.one_parent and sum(v is not None for _, v in w.parents) > 1:
        return False  # the row belongs to one parent
    if not _same_house_parents(world, w.table, house, dict(w.parents)):
        return False
    return w.created_by in (None, user) or "created_by" not in rules.columns


def _reachable(world: World, caller: Caller, table: str, row: Row) -> bool:
    """The UPDATE policy's USING: which rows a caller's UPDATE can touch at all."""
    user = caller.user_id
    if caller.api_key_id is not None:
        scope = live_key(world, caller.api_key_id)
        rules = world.perms[table]
        return (bool(rules.agent_key.update) and scope is not None and scope[1] is not None
                and (row.house_id, row.data.get(rules.agent_column)) == scope)
    if user is None:
        return False
    if table == "members":
        return ((row.data["user_id"] == user and row.house_id in world.houses_of(user))
                or row.house_id in world.houses_of(user, "admin"))
    return row.house_id in world.houses_of(user, world.perms[table].write)


def _update_allowed(world: World, caller: Caller, w: Update) -> bool:
    user = caller.user_id
    row = world.rows[w.table].get(w.row_id)
    if row is None or not _reachable(world, caller, w.table, row):
        return False
    rules = world.perms[w.table]
    if not rules.may_update(w.column):
        return False
    # updated_at is the server's to set (triggers/10_updated_at.sql): sending it too is no change of its own.
    if caller.api_key_id is not None and w.column not in rules.agent_key.update and w.column != "updated_at":
        current = row.house_id if w.column == "house_id" else row.data.get(w.column)
        if w.value == "now" or w.value != current:  # a timestamp set to now() is always a change
            return False
    return _change_allowed(world, user, w.table, row, w)


def _change_allowed(world: World, user: UUID, table: str, row: Row, w: Update) -> bool:
    """The guards once a row is reached: frozen rows, immutables, foreign keys, roles."""
    if row.deleted:
        return False  # frozen once soft-deleted
    current = row.house_id if w.column == "house_id" else row.data.get(w.column)
    if w.column in world.perms[table].immutable and w.value != current:
        return False
    if table == "api_keys" and w.column == "revoked_at" and row.data["revoked"] == "earlier":
        return False  # revocation is set once (now() again, in the same transaction, is no change)
    if not _same_house_parents(world, table, row.house_id, {w.column: w.value}):
        return False
    if w.value is None and w.column in world.perms[table].required:
        return False  # NOT NULL
    my_role = world.role_in(user, row.house_id)
    if table == "houses" and w.column == "deleted_at":
        return my_role == "owner"
    if table == "members":
        return _member_change_allowed(world, user, my_role, row, w)
    return True


def bulk_touch(world: World, caller: Caller, table: str) -> int | None:
    """``UPDATE table SET <bulk_column> = now()`` (a column no guard looks at, so the number
    of rows touched shows exactly what the UPDATE policy reaches) with no WHERE (so no SELECT
    policy applies, only the UPDATE policy): the rows it changes, or None when
    the statement must fail (no privilege, or a reached row is frozen)."""
    reached = [r for r in world.rows[table].values() if _reachable(world, caller, table, r)]
    if any(r.deleted for r in reached):
        return None
    return len(reached)


def _member_change_allowed(world: World, user: UUID, my_role: str | None, row: Row, w: Update) -> bool:
    old_role = row.data["role"]
    if w.column == "role" and w.value != old_role:
        if RANK.get(my_role, 0) < RANK["admin"]:
            return False
        if "owner" in (old_role, w.value) and my_role != "owner":
            return False
    if w.column == "deleted_at":
        leaving = row.data["user_id"] == user
        if not (leaving or my_role == "owner" or (RANK.get(my_role, 0) >= RANK["admin"] and old_role != "owner")):
            return False
    demoted = (w.column == "role" and w.value != "owner") or w.column == "deleted_at"
    if old_role == "owner" and demoted and world.house_live(row.house_id):
        return any(m.id != row.id for m in world.live_owners(row.house_id))
    return True


def _invite_for(world: World, caller: Caller, token: str) -> Row | None:
    """The invite a token names, if this caller may accept it now."""
    invite = world.rows["invites"].get(world.tokens.get(token))
    if invite is None or caller.user_id is None or caller.email is None:
        return None
    usable = not (invite.deleted or invite.data["accepted_by"] or invite.data["expired"])
    # Only while its inviter could still invite (server-made invites have none).
    inviter = invite.data["invited_by"]
    standing = inviter is None or RANK.get(world.role_in(inviter, invite.house_id), 0) >= RANK["admin"]
    if usable and standing and world.house_live(invite.house_id) and invite.data["email"] == email_key(caller.email):
        return invite
    return None


def _call_allowed(world: World, caller: Caller, w: Call) -> bool:
    user = caller.user_id
    name, args = w.function, w.args
    if name == "create_invite":
        house, email, role = args
        return (house in world.houses_of(user, "admin") and role in ("member", "admin")
                and email.strip().find("@") > 0)
    if name == "accept_invite":
        return _invite_for(world, caller, args[0]) is not None
    if name == "create_api_key":
        house, agent, _name = args
        agent_row = world.rows["agents"].get(agent)
        return house in world.houses_of(user, "admin") and (
            agent is None or (agent_row is not None and agent_row.house_id == house and not agent_row.deleted))
    if name == "set_secret":
        secret = world.rows["secrets"].get(args[0])
        return (world.secrets_sealable and secret is not None and not secret.deleted
                and secret.house_id in world.houses_of(user, "admin"))
    raise ValueError(f"unknown function {name}")


def allowed(world: World, caller: Caller, write) -> bool:
    """Whether the database must accept this write from this caller."""
    if isinstance(write, Insert):
        return _insert_allowed(world, caller, write)
    if isinstance(write, Update):
        return _update_allowed(world, caller, write)
    if isinstance(write, Delete):
        return False
    return _call_allowed(world, caller, write)


def apply(world: World, caller: Caller, write) -> list[tuple[str, Row]]:
    """Change the model as an accepted write changes the database. Returns the
    rows the database creates whose ids only it knows (matched up by the checker)."""
    user = caller.user_id
    pending: list[tuple[str, Row]] = []
    if isinstance(write, Insert):
        house = write.id if write.table == "houses" else _parent_house(world, caller, write.table, write)
        rules = world.perms[write.table]
        data = {col: None for col in rules.columns}
        data.update({k: v for k, v in write.parents if k in data})
        if "created_by" in data:
            data["created_by"] = user
        data.update({k: v for k, v in rules.insert_values(write.id).items() if k in data})
        world.rows[write.table][write.id] = Row(write.id, house, False, data)
        if write.table == "houses":
            pending.append(("members", Row(None, house, False, {"user_id": user, "role": "owner"})))
    elif isinstance(write, Update):
        row = world.rows[write.table][write.row_id]
        if write.column == "deleted_at":
            row.deleted = True
        elif write.column == "revoked_at":
            row.data["revoked"] = "now"
        elif write.column in row.data:  # a column the rules do not look at changes nothing the model holds
            row.data[write.column] = write.value
    elif write.function == "create_invite":
        house, email, role = write.args
        pending.append(("invites", Row(None, house, False, {"email": email_key(email), "role": role,
                                                              "accepted_by": None, "expired": False,
                                                              "invited_by": user})))
    elif write.function == "accept_invite":
        invite = _invite_for(world, caller, write.args[0])
        invite.data["accepted_by"] = user
        if world.role_in(user, invite.house_id) is None:
            pending.append(("members", Row(None, invite.house_id, False, {"user_id": user,
                                                                           "role": invite.data["role"]})))
    elif write.function == "create_api_key":
        house, agent, name = write.args
        pending.append(("api_keys", Row(None, house, False, {"agent_id": agent, "name": name, "revoked": None,
                                                               "expired": False})))
    elif write.function == "set_secret":
        world.secret_values[write.args[0]] = write.args[1]
    return pending


# Whose creations are bounded (docs/decisions.md): houses per user; invites and API keys
# per member of a house and per house. The numbers are the project's (the trigger
# arguments in triggers/45_limits.sql); that each is bounded is the model's.
CREATION_LIMITED = ("houses", "invites", "api_keys")


# ------------------------------------------------------------------ hard deletes (service_role, auth)

def hard_delete_members(world: World, member_ids) -> None:
    """service_role's DELETE of memberships. A live house whose last live owner
    goes this way is soft-deleted (docs/decisions.md), whatever else remains."""
    gone = [world.rows["members"].pop(m) for m in member_ids]
    for house in {m.house_id for m in gone if m.data["role"] == "owner" and not m.deleted}:
        if world.house_live(house) and not world.live_owners(house):
            world.rows["houses"][house].deleted = True


def delete_account(world: World, user: UUID) -> None:
    """DELETE FROM auth.users (how Supabase deletes an account): memberships cascade."""
    hard_delete_members(world, [i for i, m in world.rows["members"].items() if m.data["user_id"] == user])


# ------------------------------------------------------------------ reads by service_role

def resolves(world: World, key: str) -> tuple | None:
    """arbe.resolve_api_key as service_role: (id, house, agent) of a usable key
    (exactly the keys whose claims may act)."""
    key_id = world.keys.get(key)
    scope = live_key(world, key_id)
    return None if scope is None else (key_id, *scope)


def secret_value(world: World, secret: UUID) -> str | None:
    """arbe.read_secret as service_role."""
    row = world.rows["secrets"].get(secret)
    if row is None or row.deleted or not world.house_live(row.house_id):
        return None
    return world.secret_values.get(secret)


def lookup(world: World, caller: Caller, token: str) -> tuple | None:
    """arbe.lookup_invite: (house, house name, role) of an invite the caller may accept."""
    invite = _invite_for(world, caller, token)
    if invite is None:
        return None
    return (invite.house_id, world.rows["houses"][invite.house_id].data["name"], invite.data["role"])
