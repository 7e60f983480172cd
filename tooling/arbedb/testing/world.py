"""Build a world of users, houses and rows, as trusted server code would.

    w = WorldBuilder(conn)
    alice = w.user("alice@example.com")
    house = w.house("Acme", created_by=alice)   # alice becomes its owner (trigger)
    w.member(house, w.user("bob@example.com"), "admin")
    agent = w.row("agents", house, name="a1", kind="coder")

Every insert runs as ``service_role`` (RLS bypassed, the triggers still fire),
on the caller's connection, each insert in a savepoint of its transaction (or its own
transaction when none is open): commit for a world later transactions should see.
Ids are chosen here, as optimistic clients choose theirs.
"""

from __future__ import annotations

import uuid

from psycopg import sql

DEFAULTS = {
    "agents": {"name": "agent", "kind": "coder"},
    "environments": {"name": "env", "kind": "local"},
    "threads": {"kind": "chat", "status": "open"},
    "configs": {"key": "k", "value": "1"},
    "secrets": {"name": "secret"},
    "invites": {"email": "invitee@example.com", "role": "member"},
    "api_keys": {"name": "key"},
}


class WorldBuilder:
    def __init__(self, conn, new_id=uuid.uuid4, *, switch_role: bool = True):
        self.conn = conn
        self.new_id = new_id  # deterministic ids make a generated world reproducible
        # False: the caller has already SET LOCAL ROLE service_role for a bulk load
        # (one round trip per row instead of four; a failure then aborts the load).
        self.switch_role = switch_role

    def _insert(self, table: str, values: dict) -> uuid.UUID:
        values = {"id": self.new_id(), **values}
        cols = list(values)
        query = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
            sql.Identifier(*table.split(".")) if "." in table else sql.Identifier("public", table),
            sql.SQL(", ").join(map(sql.Identifier, cols)),
            sql.SQL(", ").join(sql.Placeholder() * len(cols)),
        )
        # A savepoint: a failed insert rolls back, role included, and leaves the
        # caller's transaction usable (tests assert on the error).
        if not self.switch_role:
            self.conn.execute(query, [values[c] for c in cols])
            return values["id"]
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute("SET LOCAL ROLE service_role")
            cur.execute(query, [values[c] for c in cols])
            cur.execute("RESET ROLE")
        return values["id"]

    def user(self, email: str | None = None) -> uuid.UUID:
        user_id = self.new_id()
        with self.conn.cursor() as cur:
            cur.execute("INSERT INTO auth.users (id, email) VALUES (%s, %s)", (user_id, email))
        return user_id

    def house(self, name: str = "house", created_by: uuid.UUID | None = None, **extra) -> uuid.UUID:
        return self._insert("houses", {"name": name, "created_by": created_by, **extra})

    def member(self, house: uuid.UUID, user: uuid.UUID, role: str = "member", **extra) -> uuid.UUID:
        return self._insert("members", {"house_id": house, "user_id": user, "role": role, **extra})

    def row(self, table: str, house: uuid.UUID | None, **values) -> uuid.UUID:
        data = {**DEFAULTS.get(table, {}), **values}
        if house is not None:
            data["house_id"] = house
        if table == "api_keys" and "prefix" not in data:
            data["prefix"] = uuid.uuid4().hex[:12]
        return self._insert(table, data)
