"""The small world each matrix file builds inside its own transaction, and its callers.

Built as the superuser the way trusted server code builds it (service_role for the
house rows, so the house triggers run as in production): house H created by its owner
(who becomes its owner member through the house trigger), an admin and a member of H, an
outsider who owns a house of their own, one live row of every declared table under the
first row of its first parent, and API keys of H: one bound to the sample agent, one
house-wide, one revoked (the dead key). Every id is derived from its name, so the same
declarations always give the same files.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from ..permissions import Permissions, TableRules
from ..testing.world import DEFAULTS
from .tap import SUPERUSER, identity, literal

NAMESPACE = uuid.UUID("6f1c52a4-54f2-4b7e-9a57-0c0d8a6f2b11")
USERS = ("owner", "admin", "member", "outsider")
KEYS = ("agent key", "house key", "dead key")
CALLERS = USERS + ("anon",) + KEYS


def make_id(name: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, name)


def email(user: str) -> str:
    return f"{user}@pgtap.example.com"


@dataclass
class World:
    permissions: Permissions
    house: uuid.UUID = make_id("house H")
    other_house: uuid.UUID = make_id("house of the outsider")
    users: dict[str, uuid.UUID] = field(default_factory=lambda: {u: make_id(f"user {u}") for u in USERS})
    keys: dict[str, uuid.UUID] = field(default_factory=dict)
    # (table, label) -> row id; label "main" is the row every caller reads, others are targets
    rows: dict[tuple[str, str], uuid.UUID] = field(default_factory=dict)
    parents_set: dict[tuple[str, str], dict[str, uuid.UUID]] = field(default_factory=dict)

    def row(self, table: str, label: str = "main") -> uuid.UUID:
        return self.rows[(table, label)]

    @property
    def sample_agent(self) -> uuid.UUID | None:
        return self.rows.get(("agents", "main"))

    def row_values(self, rules: TableRules, row_id: uuid.UUID, author: uuid.UUID | None) -> dict:
        """A row of ``rules``'s table in H: declared values, the first parent's main row (and every
        required parent's), the author when the table records one."""
        values = {"id": row_id, "house_id": self.house,
                  **DEFAULTS.get(rules.name, {}), **rules.insert_values(row_id)}
        for i, (column, parent) in enumerate(rules.parents):
            if (i == 0 or column in rules.required) and (parent, "main") in self.rows:
                values[column] = self.row(parent)
        if "created_by" in rules.columns and author is not None:
            values["created_by"] = author
        return values

    def names_agent(self, rules: TableRules, label: str = "main") -> bool:
        column = rules.agent_column
        return column is not None and self.parents_set.get((rules.name, label), {}).get(column) == self.sample_agent

    def has_no_parent(self, rules: TableRules, label: str = "main") -> bool:
        return not self.parents_set.get((rules.name, label))


def insert(table: str, values: dict) -> str:
    columns = ", ".join(values)
    return f"INSERT INTO public.{table} ({columns}) VALUES ({', '.join(literal(v) for v in values.values())});"


def build(permissions: Permissions, targets: dict[str, list[str]]) -> tuple[World, str]:
    """The world and the SQL that makes it; ``targets``: per table, labels of extra rows (one
    per caller whose write must succeed, so one success never hides another's row)."""
    world = World(permissions)
    owner, outsider = world.users["owner"], world.users["outsider"]
    lines = ["-- The world: users, house H and its members, one row per declared table, API keys."]
    lines += [f"INSERT INTO auth.users (id, email) VALUES ({literal(uid)}, {literal(email(u))});"
              for u, uid in world.users.items()]
    lines.append("SET LOCAL ROLE service_role;")
    for house, creator, name in ((world.house, owner, "H"), (world.other_house, outsider, "outsider's")):
        lines.append(insert("houses", {"id": house, "name": f"pgtap {name}", "created_by": creator}))
    world.rows[("houses", "main")] = world.house
    for user in ("admin", "member"):
        row_id = make_id(f"members {user}")
        world.rows[("members", user)] = row_id
        lines.append(insert("members", {"id": row_id, "house_id": world.house, "user_id": world.users[user],
                                        "role": user}))
    world.rows[("members", "main")] = world.rows[("members", "member")]
    ordinary = [t for t in permissions.names if t not in ("houses", "members")]
    for table in sorted(ordinary, key=permissions.depth):
        rules = permissions[table]
        for label in ["main", *targets.get(table, [])]:
            row_id = make_id(f"{table} {label}")
            values = world.row_values(rules, row_id, owner)
            world.rows[(table, label)] = row_id
            world.parents_set[(table, label)] = {c: values[c] for c, _ in rules.parents if c in values}
            lines.append(insert(table, values))
    if "api_keys" in permissions:
        rules = permissions["api_keys"]
        for kind, agent in (("agent key", world.sample_agent), ("house key", None), ("dead key", world.sample_agent)):
            if agent is None and kind != "house key":
                continue
            key_id = make_id(f"api key {kind}")
            world.keys[kind] = key_id
            values = world.row_values(rules, key_id, owner) | {"agent_id": agent}
            if kind == "dead key":
                values["revoked_at"] = "2000-01-01T00:00:00Z"
            lines.append(insert("api_keys", values))
    lines.append(SUPERUSER)
    return world, "\n".join(lines) + "\n"


def act_as(world: World, caller: str) -> str:
    if caller == "anon":
        return identity("anon", {"role": "anon"})
    if caller in KEYS:
        return identity("authenticated", {"role": "authenticated", "arbe_api_key_id": str(world.keys[caller])})
    return identity("authenticated", {"sub": str(world.users[caller]), "role": "authenticated",
                                      "email": email(caller)})
