"""Loading and checking the declarations file. Every mistake is one ArbedbError line naming
the file, the table and the key, and how to fix it (docs/model.md, "Per-table declarations")."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Project
from ..errors import ArbedbError

PERMISSIONS_FILE = "policies/permissions.toml"
RANK = {"owner": 3, "admin": 2, "member": 1}
ROLES = ("member", "admin", "owner")
# Tables whose rules are more than data (credential flows, membership, houses): the code
# for them is keyed to these names, so a declaration saying `special = "members"` is that table.
SPECIALS = ("houses", "members", "invites", "api_keys", "secrets")
# What an API key may read of a table: every row of its house, the rows naming its agent
# (the table's parent column to agents), or the house-wide rows (every parent column null).
KEY_SCOPES = ("house", "agent", "house_wide")
NOW = "now"
# Columns of the special tables' rules that are computed, not stored (rls/worlds.py reads them).
PSEUDO_COLUMNS = {"invites": {"expired"}, "api_keys": {"revoked", "expired"}}
TABLE_KEYS = {"special", "parents", "read", "write", "insert", "columns", "immutable", "updatable", "one_parent",
              "values", "update_probes", "agent_key", "house_key"}


@dataclass(frozen=True)
class KeyAccess:
    read: tuple[str, ...] = ()
    insert: bool = False
    update: frozenset[str] = frozenset()


@dataclass(frozen=True, eq=False)
class TableRules:
    name: str
    columns: tuple[str, ...]  # the columns the rules look at (besides id, house_id, deleted_at)
    read: str = "member"
    write: str = "admin"
    insert: str = "direct"
    parents: tuple[tuple[str, str], ...] = ()  # (column, table), in the order the house_id trigger tries them
    required: frozenset[str] = frozenset()  # parent columns that are NOT NULL
    immutable: frozenset[str] = frozenset({"house_id"})
    updatable: frozenset[str] | None = None  # None: every column not immutable
    one_parent: bool = False  # a row names at most one parent
    values: dict = field(default_factory=dict)
    update_probes: dict = field(default_factory=dict)  # column -> "now" | "@users" | "@<table>" | [values]
    agent_key: KeyAccess = KeyAccess()
    house_key: KeyAccess = KeyAccess()
    special: str | None = None

    @property
    def direct(self) -> bool:
        return self.insert == "direct"

    @property
    def agent_column(self) -> str | None:
        """The column naming an agent (what the "agent" key scope compares with the key's agent)."""
        return next((c for c, t in self.parents if t == "agents"), None)

    @property
    def insert_columns(self) -> tuple[str, ...]:
        """What a generated INSERT may name besides id and house_id: the author and the parents."""
        return (("created_by",) if "created_by" in self.columns else ()) + tuple(c for c, _ in self.parents)

    @property
    def bulk_column(self) -> str:
        """The column an UPDATE with no WHERE sets: one no guard looks at, that callers may update."""
        return "updated_at" if self.updatable is None else "deleted_at"

    def insert_values(self, row_id) -> dict:
        """What a generated INSERT sets besides ids, house and author; "{tag}" (the id's first 8 hex
        digits) keeps unique indexes from colliding by accident."""
        tag = row_id.hex[:8]
        return {k: v.replace("{tag}", tag) if isinstance(v, str) else v for k, v in self.values.items()}

    def named_columns(self) -> set[str]:
        """Every column the declaration names, for the check against the database."""
        probes = {c for c in self.update_probes}
        return (set(self.columns) | self.immutable | (self.updatable or set()) | set(self.values) | probes
                | self.agent_key.update) - PSEUDO_COLUMNS.get(self.special, set())

    def may_update(self, column: str) -> bool:
        return self.updatable is None or column in self.updatable


@dataclass(frozen=True, eq=False)  # hashed by identity: one load, many caches keyed by it
class Permissions:
    tables: dict[str, TableRules]
    source: str = PERMISSIONS_FILE

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.tables)

    def __getitem__(self, table: str) -> TableRules:
        return self.tables[table]

    def __contains__(self, table: str) -> bool:
        return table in self.tables

    def children_of(self, table: str) -> list[str]:
        return [t.name for t in self.tables.values() if any(p == table for _, p in t.parents)]

    def depth(self, table: str) -> int:
        """0 for a table without parents, else one more than its deepest parent."""
        return max((1 + self.depth(p) for _, p in self.tables[table].parents), default=0)

    def missing_line(self, tables) -> str | None:
        """The one error line for tables with row level security and no declaration, or None."""
        missing = sorted(set(tables) - set(self.tables))
        if not missing:
            return None
        names = ", ".join(f"public.{t}" for t in missing)
        return (f"{names} {'has' if len(missing) == 1 else 'have'} row level security but no declaration in "
                f"{self.source}; add [tables.{missing[0]}] (read, write, columns, ...: see docs/model.md, "
                "\"Per-table declarations\")")


def permissions_path(project: Project) -> Path:
    return project.root / project.permissions


def load_permissions(project: Project) -> Permissions:
    path = permissions_path(project)
    where = path.relative_to(project.root).as_posix() if path.is_relative_to(project.root) else str(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ArbedbError(f"{where}: no permission declarations; create it (one [tables.<name>] per house table, "
                          "see docs/model.md, \"Per-table declarations\")") from None
    return parse_permissions(text, where)


def parse_permissions(text: str, where: str = PERMISSIONS_FILE) -> Permissions:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ArbedbError(f"{where}: invalid TOML ({exc}); fix the file") from None
    _only(data, {"tables"}, where)
    tables = data.get("tables")
    if not isinstance(tables, dict) or not tables:
        raise ArbedbError(f"{where}: no [tables.<name>] declared; declare every house table")
    rules = {name: _table(name, spec, f"{where}: tables.{name}") for name, spec in tables.items()}
    for kind in SPECIALS:
        if kind not in rules or rules[kind].special != kind:
            raise ArbedbError(f"{where}: tables.{kind} must be declared with special = \"{kind}\" "
                              "(the credential and membership rules are keyed to it)")
    perms = Permissions(rules, where)
    for t in rules.values():
        for column, parent in t.parents:
            if parent not in rules:
                raise ArbedbError(f"{where}: tables.{t.name}: parent {parent!r} (for {column}) is not declared; "
                                  f"declare [tables.{parent}] or fix the name")
        for column, source in t.update_probes.items():
            if isinstance(source, str) and source.startswith("@") and source[1:] not in ("users", *rules):
                raise ArbedbError(f"{where}: tables.{t.name}.update_probes.{column}: {source!r} names no table; "
                                  "use \"@users\" or \"@<declared table>\"")
    _acyclic(perms, where)
    return perms


def _acyclic(perms: Permissions, where: str) -> None:
    def walk(table: str, path: tuple) -> None:
        if table in path:
            raise ArbedbError(f"{where}: parents form a cycle ({' -> '.join(path + (table,))}); break it")
        for _, parent in perms[table].parents:
            walk(parent, path + (table,))

    for name in perms.names:
        walk(name, ())


def _only(spec: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ArbedbError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


def _role(spec: dict, key: str, default: str, where: str) -> str:
    value = spec.get(key, default)
    if value not in ROLES:
        raise ArbedbError(f"{where}: {key} = {value!r} is not a house role; use one of {', '.join(ROLES)}")
    return value


def _columns(value, where: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ArbedbError(f"{where}: {key} must be a list of column names")
    return tuple(value)


def _key_access(spec, where: str, table: TableRules | None, agent: bool) -> KeyAccess:
    if spec is None:
        return KeyAccess()
    if not isinstance(spec, dict):
        raise ArbedbError(f"{where}: must be an inline table, e.g. {{ read = [\"house\"] }}")
    _only(spec, {"read", "insert", "update"} if agent else {"read"}, where)
    read = _columns(spec.get("read", []), where, "read")
    bad = [s for s in read if s not in KEY_SCOPES or (s == "agent" and not agent)]
    if bad:
        raise ArbedbError(f"{where}: read scope {bad[0]!r} is not one of "
                          f"{', '.join(s for s in KEY_SCOPES if agent or s != 'agent')}; fix it ([] = nothing)")
    insert = spec.get("insert", False)
    if not isinstance(insert, bool):
        raise ArbedbError(f"{where}: insert must be true or false")
    update = frozenset(_columns(spec.get("update", []), where, "update"))
    if ("agent" in read or insert or update) and table.agent_column is None:
        raise ArbedbError(f"{where}: an agent key's rows are the ones naming its agent, and {table.name} has no "
                          "parent in agents; add one to parents or remove the agent rights")
    return KeyAccess(read, insert, update)


def _table(name: str, spec, where: str) -> TableRules:
    if not isinstance(spec, dict):
        raise ArbedbError(f"{where}: must be a table ([tables.{name}])")
    _only(spec, TABLE_KEYS, where)
    special = spec.get("special")
    if special is not None and special != name:
        raise ArbedbError(f"{where}: special = {special!r}: only the table named {special!r} can be special "
                          f"(one of {', '.join(SPECIALS)}); remove it")
    if "columns" not in spec:
        raise ArbedbError(f"{where}: no columns; list the columns the rules look at, e.g. columns = [\"created_by\"]")
    columns = _columns(spec["columns"], where, "columns")
    parents, required = [], set()
    for entry in spec.get("parents", []):
        if not isinstance(entry, dict) or not {"column", "table"} <= set(entry) <= {"column", "table", "required"}:
            raise ArbedbError(f"{where}: each parent is {{ column = \"<x>_id\", table = \"<parent>\" }} "
                              "(and required = true when the column is NOT NULL)")
        if entry["column"] not in columns:
            raise ArbedbError(f"{where}: parent column {entry['column']} is not in columns; add it")
        parents.append((entry["column"], entry["table"]))
        if entry.get("required", False) is True:
            required.add(entry["column"])
    insert = spec.get("insert", "direct")
    if insert not in ("direct", "functions"):
        raise ArbedbError(f"{where}: insert = {insert!r}; use \"direct\" or \"functions\"")
    # Other column names are checked against the database (rls-test, verify): a table's columns live there.
    immutable = frozenset(_columns(spec.get("immutable", []), where, "immutable")) | {"house_id"}
    updatable = spec.get("updatable")
    if updatable is not None:
        updatable = frozenset(_columns(updatable, where, "updatable"))
    values = spec.get("values", {})
    if not isinstance(values, dict):
        raise ArbedbError(f"{where}: values must be an inline table of column = value")
    one_parent = spec.get("one_parent", False)
    if not isinstance(one_parent, bool):
        raise ArbedbError(f"{where}: one_parent must be true or false")
    rules = TableRules(name, columns, _role(spec, "read", "member", where), _role(spec, "write", "admin", where),
                       insert, tuple(parents), frozenset(required), immutable, updatable, one_parent, dict(values), {}, special=special)
    probes = spec.get("update_probes")
    probes = _default_probes(rules) if probes is None else _probes(probes, f"{where}.update_probes")
    object.__setattr__(rules, "update_probes", probes)
    object.__setattr__(rules, "agent_key", _key_access(spec.get("agent_key"), f"{where}.agent_key", rules, True))
    object.__setattr__(rules, "house_key", _key_access(spec.get("house_key"), f"{where}.house_key", rules, False))
    return rules


def _default_probes(rules: TableRules) -> dict:
    """What the property tries to UPDATE when the declaration does not say: the soft delete, the
    house, the author and each parent (values of the right kind come from the world)."""
    probes = {"deleted_at": NOW, "house_id": "@houses"}
    if "created_by" in rules.columns:
        probes["created_by"] = "@users"
    probes.update({column: f"@{table}" for column, table in rules.parents})
    return probes


def _probes(spec, where: str) -> dict:
    if not isinstance(spec, dict):
        raise ArbedbError(f"{where}: must be an inline table of column = \"now\" | \"@table\" | [values]")
    out = {}
    for column, source in spec.items():
        if not ((isinstance(source, str) and (source == NOW or source.startswith("@")))
                or (isinstance(source, list) and source)):
            raise ArbedbError(f"{where}.{column}: use \"now\", \"@users\", \"@<table>\" or a list of values")
        out[column] = tuple(source) if isinstance(source, list) else source
    return out
