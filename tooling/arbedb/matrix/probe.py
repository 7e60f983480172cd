"""`arbedb matrix`: the permission matrix as the database enforces it, found by trying.

Inside one transaction that is always rolled back, a small world is built as
service_role (a house H with its owner, an admin, a member and a target
member; a second house whose owner is the *non-member* of H; one live row of
every house-scoped table in H). Then each command is executed as each kind of
caller — anon, non-member, member, admin, owner, service_role — impersonated
the Supabase way in a savepoint of its own, and the outcome is recorded: the
row came back / the write touched it, or what stopped it (missing privilege,
row-level security, a guard trigger). Two more callers are API keys of H
(docs/model.md §4b), acting the way the API server acts for an agent: an agent key
bound to the sample agent (whose are the sample thread and config), and a
house-wide key. Nothing is read from policy text, so
the matrix shows what policies, grants and triggers do together, on any
database: the local one, CI's, or a Supabase project (every change is rolled
back; row locks are held for a moment, and never waited for past 2s).

Tables are discovered (every public table with ``house_id`` and
``deleted_at``), so a table added with ``arbedb new-table`` appears without
any change here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from ..testing.impersonate import acting_as, as_key, as_service, as_user
from ..testing.world import DEFAULTS, WorldBuilder

CALLERS = ("anon", "non-member", "member", "admin", "owner", "agent key", "house key", "service_role")
KEYS = ("agent key", "house key")
COMMON = {"id", "house_id", "created_at", "updated_at", "deleted_at"}
# docs/model.md §3's order; tables added later follow by name.
ORDER = ("houses", "members", "agents", "environments", "threads", "configs", "secrets", "invites", "api_keys")


@dataclass(frozen=True)
class Cell:
    allowed: bool | None  # None: does not apply to this caller, or the probe itself failed
    reason: str

    @property
    def mark(self) -> str:
        return {True: "yes", False: "no", None: "–" if self.reason.startswith("n/a") else "?"}[self.allowed]


@dataclass(frozen=True)
class Probe:
    table: str
    action: str
    statement: sql.Composable
    reads: bool = False  # allowed when a row comes back (else: when a row is written, or the call returns)
    not_for: frozenset[str] = frozenset()  # callers it does not apply to, with why
    why_not: str = ""


@dataclass
class Matrix:
    server: str
    rows: list[tuple[Probe, dict[str, Cell]]] = field(default_factory=list)
    # Where the database does other than policies/permissions.toml says (matrix/declared.py).
    departures: list[str] = field(default_factory=list)

    def allowed(self) -> dict[tuple[str, str], set[str]]:
        """(table, action) -> the callers allowed; what the tests compare with docs/model.md §4."""
        return {(p.table, p.action): {c for c, cell in cells.items() if cell.allowed} for p, cells in self.rows}

    def unclear(self) -> list[str]:
        return [f"{p.table} {p.action} as {c}: {cell.reason}" for p, cells in self.rows for c, cell in cells.items()
                if cell.allowed is None and not cell.reason.startswith("n/a")]


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool  # NOT NULL without a default
    parent: str | None  # the house-scoped table a (house_id, <col>) foreign key points at
    unique: bool = False  # in a unique index: a second row needs another value


# -- the catalog -------------------------------------------------------------------------------

def house_tables(conn) -> dict[str, list[Column]]:
    """Every public table with house_id and deleted_at, with its columns, in report order."""
    rows = conn.execute("""
        SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
               a.attnotnull AND NOT a.atthasdef AND a.attidentity = '' AND a.attgenerated = '',
               (SELECT pc.relname FROM pg_constraint k JOIN pg_class pc ON pc.oid = k.confrelid
                WHERE k.conrelid = c.oid AND k.contype = 'f' AND a.attnum = ANY (k.conkey)
                  AND pc.relnamespace = c.relnamespace AND pc.relname <> 'houses'
                  AND cardinality(k.conkey) = 2 LIMIT 1),
               EXISTS (SELECT FROM pg_index i WHERE i.indrelid = c.oid AND i.indisunique
                       AND a.attnum = ANY (i.indkey::int2[]))
        FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
          AND EXISTS (SELECT FROM pg_attribute h WHERE h.attrelid = c.oid AND h.attname = 'house_id')
          AND EXISTS (SELECT FROM pg_attribute d WHERE d.attrelid = c.oid AND d.attname = 'deleted_at')
        ORDER BY c.relname, a.attnum""").fetchall()
    tables: dict[str, list[Column]] = {}
    for table, name, type_, required, parent, unique in rows:
        tables.setdefault(table, []).append(
            Column(name, type_, required, parent if name != "house_id" else None, unique))
    rank = {t: i for i, t in enumerate(ORDER)}
    return {t: tables[t] for t in sorted(tables, key=lambda t: (rank.get(t, len(ORDER)), t))}


def _sample(column: Column):
    """A value for a required column no default covers (a table added since world.DEFAULTS was written)."""
    if column.type in ("text", "character varying") or column.type.startswith("character"):
        return f"probe-{uuid.uuid4().hex[:12]}"
    if column.type in ("jsonb", "json"):
        return "{}"
    if column.type == "boolean":
        return False
    if column.type == "uuid":
        return uuid.uuid4()
    if column.type.startswith("timestamp") or column.type == "date":
        return "now"
    return 0


def row_values(table: str, columns: list[Column], house: uuid.UUID, parents: dict[str, uuid.UUID],
               *, another: bool = False) -> dict:
    """Values for a new live row of ``table`` in ``house``: house_id, required parents, known defaults;
    ``another``: one more row beside the world's, so unique text columns get fresh values."""
    values: dict = {"id": uuid.uuid4()} if table != "houses" else {"id": uuid.uuid4(), "name": "probe"}
    if table != "houses":
        values["house_id"] = house
    values.update(DEFAULTS.get(table, {}))
    for column in columns:
        if column.parent and column.required:
            values[column.name] = parents[column.parent]
        elif column.required and column.name not in COMMON and (
                column.name not in values or (another and column.unique and isinstance(values[column.name], str))):
            values[column.name] = _sample(column)
    return values


def insert(table: str, values: dict) -> sql.Composed:
    return sql.SQL("INSERT INTO public.{} ({}) VALUES ({})").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, values)),
        sql.SQL(", ").join(sql.Literal(v) for v in values.values()))


# -- the world ---------------------------------------------------------------------------------

@dataclass
class World:
    users: dict[str, uuid.UUID]  # caller kind (and "target", "joiner") -> user id
    house: uuid.UUID
    rows: dict[str, uuid.UUID]  # table -> a live row in the house
    memberships: dict[str, uuid.UUID]  # "owner", "target" -> their members row
    broken: dict[str, str]  # table -> why no row could be made
    keys: dict[str, uuid.UUID] = field(default_factory=dict)  # "agent key", "house key" -> api_keys id

    def email(self, kind: str) -> str:
        return f"{kind}@matrix.invalid"


def build_world(conn, tables: dict[str, list[Column]]) -> World:
    w = WorldBuilder(conn)
    users = {k: w.user(f"{k}@matrix.invalid") for k in ("owner", "admin", "member", "non-member", "target", "joiner")}
    house = w.house("matrix", created_by=users["owner"])
    w.house("elsewhere", created_by=users["non-member"])
    w.member(house, users["admin"], "admin")
    w.member(house, users["member"], "member")
    memberships = {"target": w.member(house, users["target"], "member")}
    memberships["owner"] = conn.execute("SELECT id FROM public.members WHERE house_id = %s AND user_id = %s",
                                        (house, users["owner"])).fetchone()[0]
    rows = {"houses": house, "members": memberships["target"]}
    broken: dict[str, str] = {}
    pending = [t for t in tables if t not in rows]
    while pending:  # parents first: a table waits until the rows its required parents name exist
        ready = [t for t in pending if all(c.parent in rows for c in tables[t] if c.parent and c.required)]
        for table in ready or pending:
            pending.remove(table)
            try:
                values = row_values(table, tables[table], house, rows)
                with conn.transaction(), conn.cursor() as cur:
                    cur.execute("SET LOCAL ROLE service_role")
                    cur.execute(insert(table, values))
                    cur.execute("RESET ROLE")
                rows[table] = values["id"]
            except (psycopg.Error, KeyError) as exc:
                broken[table] = f"no sample row could be made ({str(exc).strip().splitlines()[0]})"
    return World(users, house, rows, memberships, broken, _agent_keys(conn, tables, house, rows))


def _agent_keys(conn, tables: dict[str, list[Column]], house: uuid.UUID, rows: dict) -> dict[str, uuid.UUID]:
    """The two key callers, and the sample rows that name an agent made the sample agent's."""
    if "api_keys" not in tables or "agents" not in rows:
        return {}
    keys = {}
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SET LOCAL ROLE service_role")
        for table, row_id in rows.items():
            if table not in ("agents", "api_keys") and any(c.name == "agent_id" for c in tables[table]):
                cur.execute(sql.SQL("UPDATE public.{} SET agent_id = %s WHERE id = %s").format(sql.Identifier(table)),
                            (rows["agents"], row_id))
        for kind, agent in (("agent key", rows["agents"]), ("house key", None)):
            values = row_values("api_keys", tables["api_keys"], house, rows, another=True) | {"agent_id": agent}
            cur.execute(insert("api_keys", values))
            keys[kind] = values["id"]
        cur.execute("RESET ROLE")
    return keys


# -- the probes --------------------------------------------------------------------------------

def _ordinary_column(columns: list[Column]) -> str:
    """The column an 'update' probe changes: the table's first own, non-reference column."""
    for column in columns:
        if column.name not in COMMON and not column.parent and not column.name.endswith(("_by", "_id")):
            return column.name
    return "updated_at"


_CHECKED_VALUES = """
SELECT pg_get_constraintdef(k.oid) FROM pg_constraint k
JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
WHERE k.conrelid = to_regclass(%s) AND k.contype = 'c' AND cardinality(k.conkey) = 1 AND a.attname = %s
"""


def _changed_value(conn, table: str, column: Column, row) -> object:
    """A valid value other than the row's own: writing a column back unchanged proves nothing (a guard
    comparing OLD and NEW lets it through). A CHECK listing the allowed values gives the one listed
    just before the current value (wrapping); otherwise a value derived from the current one."""
    import datetime
    import json
    import re

    with as_service(conn) as cur:
        cur.execute(sql.SQL("SELECT {} FROM public.{} WHERE id = %s").format(
            sql.Identifier(column.name), sql.Identifier(table)), (row,))
        found = cur.fetchone()
    current = found[0] if found else None
    for (definition,) in conn.execute(_CHECKED_VALUES, (f"public.{table}", column.name)).fetchall():
        allowed = re.findall(r"'((?:[^']|'')*)'", definition)
        if len(allowed) > 1 and current in allowed:
            return allowed[allowed.index(current) - 1].replace("''", "'")
    if isinstance(current, bool):
        return not current
    if isinstance(current, (int, float)):
        return current + 1
    if isinstance(current, (datetime.datetime, datetime.date)):
        return current + datetime.timedelta(days=1)
    if isinstance(current, (dict, list)) or column.type in ("jsonb", "json"):
        return json.dumps({"probe": "changed"} if current != {"probe": "changed"} else {"probe": "changed again"})
    if isinstance(current, uuid.UUID):
        return uuid.uuid4()
    return f"{current if current is not None else 'probe'}-changed"


def _function_exists(conn, signature: str) -> bool:
    return conn.execute("SELECT to_regprocedure(%s) IS NOT NULL", (signature,)).fetchone()[0]


def probes(conn, tables: dict[str, list[Column]], world: World) -> list[Probe]:
    out: list[Probe] = []
    q = sql.SQL
    for table, columns in tables.items():
        t = sql.Identifier(table)
        row = sql.Literal(world.rows.get(table))
        col = _ordinary_column(columns)
        column = next((c for c in columns if c.name == col), None)
        changed = sql.Literal(_changed_value(conn, table, column, world.rows.get(table)) if column else None)
        out += [
            Probe(table, "select", q("SELECT 1 FROM public.{} WHERE id = {}").format(t, row), reads=True),
            Probe(table, "insert", q("")),  # per caller: see _statement
            Probe(table, f"update {col}", q("UPDATE public.{} SET {c} = {v} WHERE id = {}").format(
                t, row, c=sql.Identifier(col), v=changed if column else sql.SQL("now()"))),
            Probe(table, "soft delete", q("UPDATE public.{} SET deleted_at = now() WHERE id = {}").format(t, row)),
            Probe(table, "delete", q("DELETE FROM public.{} WHERE id = {}").format(t, row)),
        ]
        out += _extra(conn, table, world)
    return out


def _extra(conn, table: str, world: World) -> list[Probe]:
    """Commands beyond the generic five that docs/model.md §4 names for a table."""
    q, lit = sql.SQL, sql.Literal
    row = lit(world.rows.get(table))
    if table == "members":
        target, owner = lit(world.memberships["target"]), lit(world.memberships["owner"])
        members_only = frozenset({"service_role", *KEYS})
        return [
            Probe(table, "promote a member to admin", q("UPDATE public.members SET role = 'admin' WHERE id = {}")
                  .format(target)),
            Probe(table, "grant owner", q("UPDATE public.members SET role = 'owner' WHERE id = {}").format(target)),
            Probe(table, "leave (own membership)", q(""), not_for=members_only, why_not="n/a: has no membership"),
            Probe(table, "remove the last owner", q("UPDATE public.members SET deleted_at = now() WHERE id = {}")
                  .format(owner)),
        ]
    house = lit(world.house)
    extras = {
        # A key may change status, title and usage of its agent's threads, nothing else.
        "threads": [("set status", None, q("UPDATE public.threads SET status = 'probe' WHERE id = {}").format(row)),
                    ("set kind", None, q("UPDATE public.threads SET kind = 'probe' WHERE id = {}").format(row))],
        "invites": [("create via arbe.create_invite", "arbe.create_invite(uuid,text,text)",
                     q("SELECT arbe.create_invite({}, 'invitee@matrix.invalid', 'member')").format(house))],
        "api_keys": [("create via arbe.create_api_key", "arbe.create_api_key(uuid,uuid,text)",
                      q("SELECT arbe.create_api_key({}, NULL, 'probe')").format(house)),
                     ("revoke (revoked_at)", None,
                      q("UPDATE public.api_keys SET revoked_at = now() WHERE id = {}").format(row))],
        "secrets": [("set value via arbe.set_secret", "arbe.set_secret(uuid,text)",
                     q("SELECT arbe.set_secret({}, 'probe')").format(row)),
                    ("read value via arbe.read_secret", "arbe.read_secret(uuid)",
                     q("SELECT arbe.read_secret({})").format(row))],
    }
    return [Probe(table, action, stmt) for action, fn, stmt in extras.get(table, [])
            if fn is None or _function_exists(conn, fn)]


def _statement(probe: Probe, caller: str, world: World, tables) -> sql.Composable:
    """The probe's SQL for this caller (inserts and 'leave' depend on who is asking)."""
    me = world.users.get(caller)
    if probe.action == "leave (own membership)":
        return sql.SQL("UPDATE public.members SET deleted_at = now() WHERE house_id = {} AND user_id = {}").format(
            sql.Literal(world.house), sql.Literal(me))
    if probe.action != "insert":
        return probe.statement
    if probe.table == "members":
        values = {"id": uuid.uuid4(), "house_id": world.house, "user_id": world.users["joiner"], "role": "member"}
    else:
        values = row_values(probe.table, tables[probe.table], world.house, world.rows, another=True)
        if any(c.name == "created_by" for c in tables[probe.table]):
            # Callers create as themselves (a key, as no user); trusted server code names any author.
            values["created_by"] = me if caller != "service_role" else world.users["owner"]
        if caller in KEYS and any(c.name == "agent_id" for c in tables[probe.table]):
            values["agent_id"] = world.rows.get("agents")  # a key creates for its agent
    values = {k: v for k, v in values.items() if v is not None}
    return insert(probe.table, values)


def _acting(conn, caller: str, world: World):
    if caller == "anon":
        return acting_as(conn, "anon", {"role": "anon"})
    if caller == "service_role":
        return as_service(conn)
    if caller in KEYS:
        return as_key(conn, world.keys[caller])
    return as_user(conn, world.users[caller], world.email(caller))


def _outcome(conn, probe: Probe, caller: str, world: World, tables) -> Cell:
    if caller in probe.not_for:
        return Cell(None, probe.why_not)
    if probe.table in world.broken:
        return Cell(None, world.broken[probe.table])
    if caller in KEYS and caller not in world.keys:
        return Cell(None, "no sample agent key could be made")
    statement = _statement(probe, caller, world, tables)
    try:
        with _acting(conn, caller, world) as cur:
            cur.execute(statement)
            if probe.reads:
                return Cell(True, "row visible") if cur.fetchone() else Cell(False, "row-level security: row not visible")
            if cur.rowcount == 0:
                return Cell(False, "row-level security: no row to write")
            return Cell(True, "done")
    except psycopg.errors.InsufficientPrivilege as exc:
        message = exc.diag.message_primary or str(exc)
        if "row-level security" in message:
            return Cell(False, "row-level security: new row refused")
        if message.startswith("permission denied"):
            return Cell(False, f"no privilege ({message})")
        return Cell(False, f"guard: {message}")
    except psycopg.errors.ForeignKeyViolation:
        if probe.action == "delete":
            # Raised after privileges and RLS let the DELETE through: only this row's children stop it.
            return Cell(True, "permitted (this row is still referenced by others)")
        return Cell(None, "probe failed: a foreign key refused the sample values")
    except psycopg.Error as exc:
        return Cell(None, f"probe failed: {(exc.diag.message_primary or str(exc)).strip()}")


def probe_matrix(dsn: str) -> Matrix:
    """Build the world, run every probe as every caller, roll everything back."""
    from ..db import connect

    with connect(dsn) as conn:
        server = conn.execute("SELECT current_setting('server_version')").fetchone()[0]
        matrix = Matrix(f"PostgreSQL {server}, database {conn.info.dbname}, as {conn.info.user}")
        with conn.transaction(force_rollback=True):
            conn.execute("SET LOCAL lock_timeout = '2s'")
            tables = house_tables(conn)
            world = build_world(conn, tables)
            for probe in probes(conn, tables, world):
                matrix.rows.append((probe, {c: _outcome(conn, probe, c, world, tables) for c in CALLERS}))
    return matrix
