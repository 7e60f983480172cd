"""The shape declarations (electric/shapes.toml): load, check, export for the proxy.

The file is the one statement of which tables are synced and what the proxy may
ask Electric for. It is read without a database (the proxy's export, lint);
``arbedb.verify.electric`` compares it with a live database.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cached_property

from ..config import Project
from ..errors import ArbedbError
from .where import parse_where

SHAPES_FILE = "electric/shapes.toml"
# The one WHERE every per-entity shape uses (docs/model.md §1, §5).
HOUSE_WHERE = "house_id = $1 AND deleted_at IS NULL"
# House roles, weakest first; a shape needing `admin` is allowed to admins and owners.
ROLES = ("member", "admin", "owner")
# What a $n of a shape's WHERE is bound to by the proxy.
PARAM_KINDS = {
    "house": "user callers: the house the request names (the caller must hold the shape's role there); "
             "key callers: the key's house (arbe.caller_key_house_id())",
    "caller": "the caller's own user id (auth.uid())",
    "agent": "the calling API key's agent (arbe.caller_agent_id()); a house-wide key has none",
}
# Who a shape serves (docs/model.md §4b): signed-in users, or agents acting with an API key
# (the proxy resolves the key with arbe.resolve_api_key and binds its house and agent).
CALLER_KINDS = ("user", "key")
# Electric's `replica` request parameter, which the proxy passes as exported. Subquery shapes
# ask for whole rows (docs/decisions.md, "Subquery shapes"); literal shapes keep Electric's default.
REPLICA = {False: "default", True: "full"}


@dataclass(frozen=True)
class Shape:
    table: str  # the synced table's name, e.g. "members"
    name: str  # "house" for the house shape, else the name under [tables.<t>.shapes]
    where: str  # a WHERE template with $1..$n
    params: tuple[str, ...]  # PARAM_KINDS key per $n
    role: str | None  # the house role needed; None when no param is a house, and for key shapes
    caller: str = "user"  # CALLER_KINDS: whom the proxy may give this shape
    subquery: bool = False  # declared `subquery = true`: its WHERE reads another table (Electric 1.6+)

    @cached_property
    def parsed(self):
        return parse_where(self.where, f"{self.table}.{self.name}", subqueries=self.subquery)

    @property
    def where_columns(self) -> tuple[str, ...]:
        """The columns of its own table the WHERE reads, in order of first use (subqueries' outer side included)."""
        return self.parsed.columns

    @property
    def subqueries(self):
        return self.parsed.subqueries

    @property
    def replica(self) -> str:
        return REPLICA[self.subquery]

    def allows(self, house_role: str | None) -> bool:
        """Whether a user holding ``house_role`` (None: not a member) may have this shape."""
        if self.caller != "user":
            return False
        if self.role is None:
            return True
        return house_role in ROLES and ROLES.index(house_role) >= ROLES.index(self.role)

    def allows_key(self, agent_id) -> bool:
        """Whether a live API key (of agent ``agent_id``, None for a house-wide key) may have this shape."""
        return self.caller == "key" and ("agent" not in self.params or agent_id is not None)

    def bind_key(self, house_id, agent_id) -> list:
        """The $n values for a key caller: its house and agent."""
        return [{"house": house_id, "agent": agent_id}[p] for p in self.params]

    def as_json(self) -> dict:
        out = {"where": self.where, "params": list(self.params), "role": self.role, "caller": self.caller,
               "replica": self.replica}
        if self.subquery:
            # Electric makes each subquery a shape of its own over these tables, with the same params.
            out["subquery"] = True
            out["depends_on"] = sorted({q.table for q in self.subqueries})
        return out


@dataclass(frozen=True)
class SyncedTable:
    name: str
    schema: str
    columns: tuple[str, ...]
    primary_key: tuple[str, ...]
    shapes: tuple[Shape, ...]

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    def as_json(self) -> dict:
        return {
            "table": self.qualified,
            "columns": list(self.columns),
            "primary_key": list(self.primary_key),
            "shapes": {s.name: s.as_json() for s in self.shapes},
        }


@dataclass(frozen=True)
class Shapes:
    publication: str
    tables: tuple[SyncedTable, ...]

    def table(self, name: str) -> SyncedTable:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(name)

    @property
    def qualified_names(self) -> set[str]:
        return {t.qualified for t in self.tables}

    def all_shapes(self) -> list[Shape]:
        return [s for t in self.tables for s in t.shapes]

    def as_json(self) -> dict:
        """What ``arbedb shapes --json`` prints for the proxy."""
        return {
            "publication": self.publication,
            "roles": list(ROLES),
            "params": PARAM_KINDS,
            "callers": list(CALLER_KINDS),
            "tables": {t.name: t.as_json() for t in self.tables},
        }


def shapes_path(project: Project):
    return project.root / project.extra.get("shapes", SHAPES_FILE)


def load_shapes(project: Project) -> Shapes:
    """The declarations of ``project``; a malformed file is one ArbedbError naming what to fix."""
    path = shapes_path(project)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ArbedbError(f"{path}: no shape declarations; create it (see docs/electric.md)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ArbedbError(f"{path}: invalid TOML ({exc}); fix the file") from None
    where = path.relative_to(project.root).as_posix()
    _only(data, {"tables"}, where)
    tables = data.get("tables")
    if not isinstance(tables, dict) or not tables:
        raise ArbedbError(f"{where}: no [tables.<name>] declared; declare at least one synced table")
    shapes = Shapes(project.publication, tuple(_table(name, spec, where) for name, spec in tables.items()))
    _subqueries_read_synced_tables(shapes, where)
    _hold_to_declarations(project, shapes, where)
    return shapes


def _subqueries_read_synced_tables(shapes: Shapes, where: str) -> None:
    """Electric runs each subquery as a shape of its own, so its table must be published (with REPLICA
    IDENTITY FULL, which it refuses to sync without in manual publishing mode): a synced table."""
    for shape in shapes.all_shapes():
        for query in shape.subqueries:
            if query.table not in shapes.qualified_names:
                raise ArbedbError(f"{where}: tables.{shape.table}.shapes.{shape.name}: its subquery reads "
                                  f"{query.table}, not a synced table; Electric syncs a subquery's table as a shape "
                                  f"of its own, so declare [tables.{query.table.split('.')[-1]}] or read another")


def key_shapes(rules) -> list[tuple[str, str, tuple[str, ...]]]:
    """(name, WHERE, params) of the key shapes a table's permission declaration implies: one per
    read scope an API key has (docs/model.md §7). A shape without $agent serves every key of the
    house, so a scope without the agent is one both kinds of key must share."""
    scopes = dict.fromkeys(rules.agent_key.read + rules.house_key.read)
    out = []
    for scope in scopes:
        if scope != "agent" and (scope in rules.agent_key.read) != (scope in rules.house_key.read):
            raise ArbedbError(f"tables.{rules.name}: agent keys and house-wide keys must share read scope {scope!r} "
                              "(one shape serves both); give it to both or neither in the permission declarations")
        if scope == "house":
            out.append(("key", HOUSE_WHERE, ("house",)))
        elif scope == "agent":
            out.append(("agent", f"house_id = $1 AND {rules.agent_column} = $2 AND deleted_at IS NULL",
                        ("house", "agent")))
        else:
            nulls = " AND ".join(f"{column} IS NULL" for column, _ in rules.parents)
            out.append(("house_wide", f"house_id = $1 AND {nulls} AND deleted_at IS NULL", ("house",)))
    return out


def _hold_to_declarations(project: Project, shapes: Shapes, where: str) -> None:
    """The key shapes are the permission declarations' (agent_key, house_key), written out for
    the proxy: each synced, declared table must carry exactly those."""
    from ..permissions import load_permissions, permissions_path

    if not permissions_path(project).is_file():
        return  # no declarations: the shapes stand alone (rls-test and lint say what is missing)
    perms = load_permissions(project)
    for table in shapes.tables:
        if table.name not in perms:
            continue
        want = set(key_shapes(perms[table.name]))
        have = {(s.name, s.where, s.params) for s in table.shapes if s.caller == "key"}
        for name, text, params in sorted(want - have):
            raise ArbedbError(f"{where}: tables.{table.name}: its permission declaration gives API keys the shape "
                              f"{name!r}; add [tables.{table.name}.shapes.{name}] caller = \"key\", "
                              f"where = \"{text}\", params = {list(params)}".replace("'", '"'))
        for name, _, _ in sorted(have - want):
            raise ArbedbError(f"{where}: tables.{table.name}.shapes.{name}: a key shape its permission declaration "
                              f"({perms.source}: agent_key, house_key) does not give; remove it, or declare the "
                              "read scope it serves")


def _only(spec: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ArbedbError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


def _names(value, where: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise ArbedbError(f"{where}: {key} must be a non-empty list of column names")
    if len(set(value)) != len(value):
        raise ArbedbError(f"{where}: {key} names a column twice; list each once")
    return tuple(value)


def _role(value, where: str) -> str:
    if value not in ROLES:
        raise ArbedbError(f"{where}: role {value!r} is not a house role; use one of {', '.join(ROLES)}")
    return value


def _table(name: str, spec: dict, file: str) -> SyncedTable:
    where = f"{file}: tables.{name}"
    if not isinstance(spec, dict):
        raise ArbedbError(f"{where}: must be a table ([tables.{name}])")
    _only(spec, {"schema", "columns", "primary_key", "role", "shapes"}, where)
    columns = _names(spec.get("columns"), where, "columns")
    primary_key = _names(spec.get("primary_key", ["id"]), where, "primary_key")
    missing = [c for c in primary_key if c not in columns]
    if missing:
        raise ArbedbError(f"{where}: columns lacks primary key column(s) {', '.join(missing)}; add them")
    if "role" not in spec:
        raise ArbedbError(f"{where}: no role for the house shape; add role = \"member\" (or admin, owner)")
    shapes = [Shape(name, "house", HOUSE_WHERE, ("house",), _role(spec["role"], where))]
    extra = spec.get("shapes", {})
    if not isinstance(extra, dict):
        raise ArbedbError(f"{where}: shapes must be tables ([tables.{name}.shapes.<name>])")
    for shape_name, shape_spec in extra.items():
        if shape_name == "house":
            raise ArbedbError(f"{where}.shapes.house: the house shape is implied by `role`; rename this shape")
        shapes.append(_extra_shape(name, shape_name, shape_spec, f"{where}.shapes.{shape_name}"))
    for shape in shapes:
        unknown = [c for c in shape.where_columns if c not in columns]
        if unknown:
            raise ArbedbError(f"{where}: shape {shape.name} filters on {', '.join(unknown)}, not in columns; add it")
    return SyncedTable(name, spec.get("schema", "public"), columns, primary_key, tuple(shapes))


def _extra_shape(table: str, name: str, spec, where: str) -> Shape:
    if not isinstance(spec, dict):
        raise ArbedbError(f"{where}: must be a table")
    _only(spec, {"where", "params", "role", "caller", "subquery"}, where)
    subquery = spec.get("subquery", False)
    if not isinstance(subquery, bool):
        raise ArbedbError(f"{where}: subquery must be true or false (true: the WHERE reads another table through "
                          f"`IN (SELECT ...)`), not {subquery!r}")
    caller = spec.get("caller", "user")
    if caller not in CALLER_KINDS:
        raise ArbedbError(f"{where}: caller {caller!r} is not a caller kind; use one of {', '.join(CALLER_KINDS)}")
    text = spec.get("where")
    if not isinstance(text, str) or not text.strip():
        raise ArbedbError(f"{where}: no where; give the WHERE template, e.g. \"user_id = $1 AND deleted_at IS NULL\"")
    params = spec.get("params", [])
    if not isinstance(params, list) or any(p not in PARAM_KINDS for p in params):
        raise ArbedbError(f"{where}: params must list, per $n, one of {', '.join(PARAM_KINDS)}")
    if caller == "key" and "caller" in params:
        raise ArbedbError(f"{where}: a key is not a user; a key shape binds \"house\" and \"agent\", not \"caller\"")
    if caller == "user" and "agent" in params:
        raise ArbedbError(f"{where}: \"agent\" is bound only for key callers; add caller = \"key\"")
    parsed = parse_where(text, where, subqueries=subquery)
    numbers = parsed.params
    if subquery:
        _subquery_shape(parsed, caller, where)
    if sorted(numbers) != list(range(1, len(params) + 1)):
        raise ArbedbError(f"{where}: the WHERE uses ${', $'.join(map(str, sorted(numbers))) or ' nothing'} "
                          f"but params has {len(params)}; give one params entry per $1..$n")
    role = spec.get("role")
    if caller == "key":
        if role is not None:
            raise ArbedbError(f"{where}: a key holds no house role; remove role (the key's own house is $house)")
        _equalities_only(text, where)
    elif ("house" in params) != (role is not None):
        raise ArbedbError(f"{where}: a shape needs a role exactly when a param is \"house\"; "
                          + ("add role = \"member\"" if role is None else "remove role"))
    # A subquery shape's WHERE goes out as PostgreSQL's parser reads it: one line, whatever the file's layout.
    return Shape(table, name, parsed.text if subquery else text.strip(), tuple(params), None if role is None else _role(role, where), caller,
                 subquery)


def _subquery_shape(parsed, caller: str, where: str) -> None:
    """What a shape declaring `subquery = true` must be: a user's, reading at least one subquery, and live
    rows only (what RLS's equality proof compares it with)."""
    if caller != "user":
        raise ArbedbError(f"{where}: key shapes are literal; remove subquery (a key's house and agent are bound "
                          "as $n)")
    if not parsed.subqueries:
        raise ArbedbError(f"{where}: declares subquery = true but its WHERE has no `IN (SELECT ...)`; remove "
                          "subquery, or write the subquery")
    if "deleted_at IS NULL" not in parsed.conjuncts:
        raise ArbedbError(f"{where}: a subquery shape must hold `AND deleted_at IS NULL` at its top level; add it")


def _equalities_only(text: str, where: str) -> None:
    """A key shape's WHERE: an AND of `column = $n` and `column IS NULL`, `deleted_at IS NULL` among them
    (what Electric indexes, and what the RLS equality proof assumes)."""
    from pglast import parse_sql

    clause = parse_sql(f"SELECT WHERE {text}")[0].stmt.whereClause
    terms = clause.args if type(clause).__name__ == "BoolExpr" and clause.boolop.name == "AND_EXPR" else [clause]
    null_tested = []
    for term in terms:
        kind = type(term).__name__
        if kind == "NullTest" and term.nulltesttype.name == "IS_NULL" and type(term.arg).__name__ == "ColumnRef":
            null_tested.append(term.arg.fields[-1].sval)
        elif not (kind == "A_Expr" and term.kind.name == "AEXPR_OP" and [n.sval for n in term.name] == ["="]
                  and type(term.lexpr).__name__ == "ColumnRef" and type(term.rexpr).__name__ == "ParamRef"):
            raise ArbedbError(f"{where}: a key shape's WHERE is an AND of `column = $n` and `column IS NULL`; "
                              f"rewrite it")
    if "deleted_at" not in null_tested:
        raise ArbedbError(f"{where}: a key shape must hold `deleted_at IS NULL`; add it")


def render_json(shapes: Shapes) -> str:
    import json

    return json.dumps(shapes.as_json(), indent=2)


def render_text(shapes: Shapes) -> str:
    """For a person: per table its shapes (who may have them, the WHERE, what $n is) and columns."""
    lines = [f"publication {shapes.publication}: {len(shapes.tables)} synced tables"]
    for table in shapes.tables:
        lines.append(f"{table.qualified}")
        for shape in table.shapes:
            who = ("an API key of the house" if shape.caller == "key" else
                   f"{shape.role}+ of the house" if shape.role else "any signed-in caller")
            binds = ", ".join(f"${n} = {kind}" for n, kind in enumerate(shape.params, 1))
            sub = ", subquery shape, replica=full" if shape.subquery else ""
            lines.append(f"  {shape.name:<6} {who:<22} WHERE {shape.where}   ({binds}{sub})")
        lines.append(f"  columns: {', '.join(table.columns)}  (primary key: {', '.join(table.primary_key)})")
    return "\n".join(lines)
