"""The schema a set of SQL sources leaves behind, as plain data the rules read.

Built by replaying statements in apply order: upgrades, then the declarative
layer (downgrades never reach the model). ``verify`` feeds the same builder
with DDL read back from a live catalog (verify/catalog_sql.py), so one set of
rules judges both the repository and a database.

Deliberately not modelled: default privileges, inheritance, partitions, and
anything inside DO blocks (the auth compatibility step) — the rules do not
depend on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pglast import ast
from pglast.enums import AlterTableType, ConstrType, ObjectType

from ..findings import Finding
from .nodes import const_string, qualified, relation_name, role_name, strings, type_name
from .parsing import ParsedSource, Statement

ALL_TABLE_PRIVILEGES = frozenset({"select", "insert", "update", "delete", "truncate", "references", "trigger"})
# TRIGGER_TYPE_* bits of pg_trigger.tgtype, as CreateTrigStmt carries them.
TRIGGER_BEFORE, TRIGGER_INSTEAD = 1 << 1, 1 << 6
TRIGGER_EVENTS = {1 << 2: "insert", 1 << 3: "delete", 1 << 4: "update", 1 << 5: "truncate"}


@dataclass(frozen=True)
class Where:
    """Where a definition lives: a file position, or a database object."""

    path: str | None = None
    line: int = 1
    col: int = 1
    object: str | None = None

    def finding(self, code: str, message: str, fix: str, severity: str = "error", obj: str | None = None) -> Finding:
        return Finding(code=code, message=message, fix=fix, path=self.path, line=self.line, col=self.col,
                       object=obj or self.object, severity=severity)


@dataclass
class Column:
    name: str
    type: str
    not_null: bool
    generated: bool
    where: Where


@dataclass
class ForeignKey:
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]  # empty: the referenced primary key
    where: Where


@dataclass
class Table:
    name: str  # "public.threads"
    where: Where
    columns: dict[str, Column] = field(default_factory=dict)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    keys: list[tuple[str, ...]] = field(default_factory=list)  # primary key and unique constraints
    rls: bool = False
    replica_identity: str = "d"  # d(efault), f(ull), n(othing), i(ndex)
    replica_where: Where | None = None
    grants: dict[str, set[str]] = field(default_factory=dict)  # role -> table privileges
    column_grants: dict[str, set[tuple[str, str]]] = field(default_factory=dict)  # role -> {(priv, column)}

    @property
    def schema(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def short(self) -> str:
        return self.name.split(".", 1)[1]


@dataclass
class Index:
    name: str
    table: str
    columns: tuple[str | None, ...]  # None for an expression
    predicate: ast.Node | None
    unique: bool
    where: Where


@dataclass
class Policy:
    name: str
    table: str
    command: str  # "all", "select", "insert", "update", "delete"
    roles: tuple[str, ...]
    permissive: bool
    using: ast.Node | None
    check: ast.Node | None
    where: Where
    parsed: ParsedSource  # the source holding it: node locations are offsets into it


@dataclass
class Function:
    name: str  # "arbe.is_house_member"
    args: tuple[str, ...]  # identity argument types
    language: str
    security_definer: bool
    settings: dict[str, tuple[str, ...]]  # SET name = values, e.g. {"search_path": ("",)}
    returns: str
    node: ast.CreateFunctionStmt
    parsed: ParsedSource  # the source holding the CREATE FUNCTION (body line numbers are relative to it)
    statement: Statement
    where: Where
    execute: set[str] = field(default_factory=lambda: {"public"})  # roles that may EXECUTE

    @property
    def signature(self) -> str:
        return f"{self.name}({', '.join(self.args)})"


@dataclass
class Trigger:
    name: str
    table: str
    function: str
    before: bool
    row: bool
    events: tuple[str, ...]
    args: tuple[str, ...]  # the trigger's arguments (TG_ARGV)
    where: Where
    transition: tuple[str, ...] = ()  # REFERENCING OLD/NEW TABLE AS names (statement triggers' row sets)
    when: ast.Node | None = None  # the WHEN condition, as parsed


@dataclass
class PublishedTable:
    columns: tuple[str, ...]  # a column list, empty when all columns
    row_filter: ast.Node | None
    where: Where


@dataclass
class Publication:
    name: str
    where: Where
    all_tables: bool = False  # FOR ALL TABLES
    schemas: set[str] = field(default_factory=set)  # FOR TABLES IN SCHEMA
    tables: dict[str, PublishedTable] = field(default_factory=dict)
    publish: tuple[str, ...] = ("insert", "update", "delete", "truncate")


@dataclass
class Schema:
    tables: dict[str, Table] = field(default_factory=dict)
    indexes: dict[str, Index] = field(default_factory=dict)
    policies: dict[tuple[str, str], Policy] = field(default_factory=dict)
    functions: dict[tuple[str, tuple[str, ...]], Function] = field(default_factory=dict)
    triggers: dict[tuple[str, str], Trigger] = field(default_factory=dict)
    publications: dict[str, Publication] = field(default_factory=dict)
    enums: dict[str, Where] = field(default_factory=dict)
    schema_grants: dict[str, dict[str, set[str]]] = field(default_factory=dict)  # schema -> role -> privs
    grant_where: dict[tuple[str, str], Where] = field(default_factory=dict)  # (object, role) -> last GRANT
    # {"*"} once a global ALTER DEFAULT PRIVILEGES … REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC ran: new
    # functions then start without PUBLIC EXECUTE. Assumes the applying role creates the functions.
    no_default_execute: set[str] = field(default_factory=set)

    def public_tables(self) -> list[Table]:
        return [t for t in self.tables.values() if t.schema == "public"]

    def functions_named(self, name: str) -> list[Function]:
        return [f for f in self.functions.values() if f.name == name]

    def policies_on(self, table: str) -> list[Policy]:
        return [p for p in self.policies.values() if p.table == table]

    def triggers_on(self, table: str) -> list[Trigger]:
        return [t for t in self.triggers.values() if t.table == table]


def function_args(parameters) -> tuple[str, ...]:
    """Identity argument types: IN, INOUT and VARIADIC parameters, as PostgreSQL counts them."""
    return tuple(type_name(p.argType) for p in parameters or () if str(p.mode.value) in ("i", "b", "v", "d"))


class Builder:
    """Replays statements into a :class:`Schema`."""

    def __init__(self) -> None:
        self.schema = Schema()
        self.statement: Statement | None = None  # the one being replayed

    def add(self, parsed: ParsedSource) -> None:
        for stmt in parsed.statements:
            handler = getattr(self, f"_on_{type(stmt.node).__name__}", None)
            if handler is not None:
                self.statement = stmt
                handler(stmt.node, parsed, self._where(parsed, stmt.start))

    @staticmethod
    def _where(parsed: ParsedSource, offset: int | None) -> Where:
        return Where(**parsed.locate(offset))

    # -- tables ----------------------------------------------------------------
    def _on_CreateStmt(self, node: ast.CreateStmt, parsed, where) -> None:
        name = relation_name(node.relation)
        if node.if_not_exists and name in self.schema.tables:
            return
        table = Table(name, where)
        self.schema.tables[name] = table
        for element in node.tableElts or ():
            if isinstance(element, ast.ColumnDef):
                self._add_column(table, element, parsed)
            elif isinstance(element, ast.Constraint):
                self._add_constraint(table, element, parsed, ())

    def _add_column(self, table: Table, col: ast.ColumnDef, parsed) -> None:
        kinds = {c.contype for c in col.constraints or ()}
        table.columns[col.colname] = Column(
            col.colname, type_name(col.typeName),
            not_null=bool(col.is_not_null) or bool(kinds & {ConstrType.CONSTR_NOTNULL, ConstrType.CONSTR_PRIMARY}),
            generated=ConstrType.CONSTR_GENERATED in kinds,
            where=self._where(parsed, col.location))
        for constraint in col.constraints or ():
            self._add_constraint(table, constraint, parsed, (col.colname,))

    def _add_constraint(self, table: Table, con: ast.Constraint, parsed, columns: tuple[str, ...]) -> None:
        where = self._where(parsed, con.location)
        if con.contype == ConstrType.CONSTR_FOREIGN:
            table.foreign_keys.append(ForeignKey(
                tuple(strings(con.fk_attrs)) or columns, relation_name(con.pktable),
                tuple(strings(con.pk_attrs)), where))
        elif con.contype in (ConstrType.CONSTR_PRIMARY, ConstrType.CONSTR_UNIQUE):
            table.keys.append(tuple(strings(con.keys)) or columns)
            if con.contype == ConstrType.CONSTR_PRIMARY:
                for column in tuple(strings(con.keys)) or columns:
                    if column in table.columns:
                        table.columns[column].not_null = True

    def _on_AlterTableStmt(self, node: ast.AlterTableStmt, parsed, where) -> None:
        if node.objtype != ObjectType.OBJECT_TABLE:
            return
        table = self.schema.tables.get(relation_name(node.relation))
        if table is None:
            return
        for cmd in node.cmds or ():
            kind = cmd.subtype
            if kind == AlterTableType.AT_EnableRowSecurity:
                table.rls = True
            elif kind == AlterTableType.AT_DisableRowSecurity:
                table.rls = False
            elif kind == AlterTableType.AT_ReplicaIdentity:
                table.replica_identity = cmd.def_.identity_type
                table.replica_where = where
            elif kind == AlterTableType.AT_AddColumn:
                self._add_column(table, cmd.def_, parsed)
            elif kind == AlterTableType.AT_DropColumn:
                table.columns.pop(cmd.name, None)
            elif kind == AlterTableType.AT_AddConstraint:
                self._add_constraint(table, cmd.def_, parsed, ())
            elif kind in (AlterTableType.AT_SetNotNull, AlterTableType.AT_DropNotNull) and cmd.name in table.columns:
                table.columns[cmd.name].not_null = kind == AlterTableType.AT_SetNotNull
            elif kind == AlterTableType.AT_AlterColumnType and cmd.name in table.columns:
                table.columns[cmd.name].type = type_name(cmd.def_.typeName)

    def _on_RenameStmt(self, node: ast.RenameStmt, parsed, where) -> None:
        if node.renameType == ObjectType.OBJECT_COLUMN and node.relation is not None:
            table = self.schema.tables.get(relation_name(node.relation))
            if table and node.subname in table.columns:
                column = table.columns.pop(node.subname)
                column.name = node.newname
                table.columns[node.newname] = column

    def _on_IndexStmt(self, node: ast.IndexStmt, parsed, where) -> None:
        table = relation_name(node.relation)
        name = f"{table.split('.')[0]}.{node.idxname}" if node.idxname else f"{table}#{len(self.schema.indexes)}"
        self.schema.indexes[name] = Index(
            name, table,
            tuple(p.name if p.name else None for p in node.indexParams or ()),
            node.whereClause, bool(node.unique), where)

    def _on_CreateEnumStmt(self, node: ast.CreateEnumStmt, parsed, where) -> None:
        self.schema.enums[qualified(strings(node.typeName))] = where

    def _on_DropStmt(self, node: ast.DropStmt, parsed, where) -> None:
        kind = node.removeType
        for obj in node.objects or ():
            if kind == ObjectType.OBJECT_TABLE:
                self.schema.tables.pop(qualified(strings(obj)), None)
            elif kind == ObjectType.OBJECT_INDEX:
                self.schema.indexes.pop(qualified(strings(obj)), None)
            elif kind in (ObjectType.OBJECT_POLICY, ObjectType.OBJECT_TRIGGER):
                names = strings(obj)
                store = self.schema.policies if kind == ObjectType.OBJECT_POLICY else self.schema.triggers
                store.pop((qualified(names[:-1]), names[-1]), None)
            elif kind == ObjectType.OBJECT_FUNCTION:
                for key in self._functions_matching(obj):
                    del self.schema.functions[key]
            elif kind == ObjectType.OBJECT_PUBLICATION:
                self.schema.publications.pop(obj.sval if isinstance(obj, ast.String) else str(obj), None)
            elif kind == ObjectType.OBJECT_TYPE:
                self.schema.enums.pop(qualified(strings(obj.names)) if isinstance(obj, ast.TypeName) else "", None)

    # -- policies --------------------------------------------------------------
    def _on_CreatePolicyStmt(self, node: ast.CreatePolicyStmt, parsed, where) -> None:
        table = relation_name(node.table)
        self.schema.policies[(table, node.policy_name)] = Policy(
            node.policy_name, table, node.cmd_name or "all",
            tuple(role_name(r) for r in node.roles or ()) or ("public",),
            bool(node.permissive), node.qual, node.with_check, where, parsed)

    def _on_AlterPolicyStmt(self, node: ast.AlterPolicyStmt, parsed, where) -> None:
        policy = self.schema.policies.get((relation_name(node.table), node.policy_name))
        if policy is None:
            return
        if node.roles:
            policy.roles = tuple(role_name(r) for r in node.roles)
        policy.using = node.qual if node.qual is not None else policy.using
        policy.check = node.with_check if node.with_check is not None else policy.check
        policy.where, policy.parsed = where, parsed

    # -- functions -------------------------------------------------------------
    def _on_CreateFunctionStmt(self, node: ast.CreateFunctionStmt, parsed, where) -> None:
        name = qualified(strings(node.funcname))
        args = function_args(node.parameters)
        options = {o.defname: o.arg for o in node.options or ()}
        previous = self.schema.functions.get((name, args))
        fn = Function(
            name, args, language=(const_string(options.get("language")) or "sql").lower(),
            security_definer=bool(getattr(options.get("security"), "boolval", False)),
            settings={}, returns=type_name(node.returnType), node=node, parsed=parsed,
            statement=self.statement, where=where)
        self._apply_settings(fn, node.options)
        if previous is not None and node.replace:
            fn.execute = previous.execute  # CREATE OR REPLACE keeps the function's privileges
        elif "*" in self.schema.no_default_execute:
            fn.execute = set()
        self.schema.functions[(name, args)] = fn

    @staticmethod
    def _apply_settings(fn: Function, options) -> None:
        for option in options or ():
            if option.defname == "security":
                fn.security_definer = bool(option.arg.boolval)
            elif option.defname == "set" and isinstance(option.arg, ast.VariableSetStmt):
                var = option.arg
                if var.name is None:
                    continue
                if var.args is None:
                    fn.settings.pop(var.name, None)  # RESET name / SET name TO DEFAULT
                else:
                    fn.settings[var.name] = tuple(const_string(a) or "" for a in var.args)

    def _on_AlterFunctionStmt(self, node: ast.AlterFunctionStmt, parsed, where) -> None:
        for key in self._functions_matching(node.func):
            self._apply_settings(self.schema.functions[key], node.actions)

    def _functions_matching(self, owa: ast.ObjectWithArgs) -> list[tuple[str, tuple[str, ...]]]:
        name = qualified(strings(owa.objname))
        if owa.args_unspecified:
            return [k for k in self.schema.functions if k[0] == name]
        key = (name, tuple(type_name(t) for t in owa.objargs or ()))
        return [key] if key in self.schema.functions else []

    # -- privileges ------------------------------------------------------------
    def _on_GrantStmt(self, node: ast.GrantStmt, parsed, where) -> None:
        from pglast.enums import GrantTargetType

        roles = [role_name(r) for r in node.grantees or ()]
        privileges = [(p.priv_name, tuple(strings(p.cols))) for p in node.privileges or ()]
        all_in_schema = node.targtype == GrantTargetType.ACL_TARGET_ALL_IN_SCHEMA
        if node.objtype == ObjectType.OBJECT_TABLE:
            if all_in_schema:
                schemas = set(strings(node.objects))
                tables = [t for t in self.schema.tables.values() if t.schema in schemas]
            else:
                tables = [self.schema.tables[n] for n in map(relation_name, node.objects or ())
                          if n in self.schema.tables]
            for table in tables:
                self._grant_table(table, roles, privileges, node.is_grant)
                self._grant_where(table.name, roles, node, where)
        elif node.objtype in (ObjectType.OBJECT_FUNCTION, ObjectType.OBJECT_ROUTINE, ObjectType.OBJECT_PROCEDURE):
            if all_in_schema:
                schemas = set(strings(node.objects))
                keys = [k for k in self.schema.functions if k[0].split(".")[0] in schemas]
            else:
                keys = [k for owa in node.objects or () for k in self._functions_matching(owa)]
            for key in keys:
                execute = self.schema.functions[key].execute
                if node.is_grant:
                    execute.update(roles)
                else:
                    execute.difference_update(roles)
        elif node.objtype == ObjectType.OBJECT_SCHEMA:
            for schema in strings(node.objects):
                self._grant_where(f"schema {schema}", roles, node, where)
                per_role = self.schema.schema_grants.setdefault(schema, {})
                names = {p for p, _ in privileges} or {"usage", "create"}
                for role in roles:
                    held = per_role.setdefault(role, set())
                    held.update(names) if node.is_grant else held.difference_update(names)

    def _grant_where(self, obj: str, roles, node, where: Where) -> None:
        if node.is_grant:
            self.schema.grant_where.update({(obj, role): where for role in roles})

    @staticmethod
    def _grant_table(table: Table, roles, privileges, is_grant: bool) -> None:
        whole = {p for p, cols in privileges if not cols} if privileges else set(ALL_TABLE_PRIVILEGES)
        if "all" in whole:
            whole = set(ALL_TABLE_PRIVILEGES)
        per_column = {(p, c) for p, cols in privileges for c in cols}
        for role in roles:
            held = table.grants.setdefault(role, set())
            cols = table.column_grants.setdefault(role, set())
            if is_grant:
                held.update(whole)
                cols.update(per_column)
            else:
                held.difference_update(whole)
                cols.difference_update(per_column)
                cols.difference_update({(p, c) for p, c in set(cols) if p in whole})

    def _on_AlterDefaultPrivilegesStmt(self, node: ast.AlterDefaultPrivilegesStmt, parsed, where) -> None:
        action = node.action
        if action.objtype != ObjectType.OBJECT_FUNCTION or "public" not in {role_name(r) for r in action.grantees}:
            return
        privileges = {p.priv_name for p in action.privileges or ()}
        if privileges and not privileges & {"execute", "all"}:
            return
        if any(o.defname == "schemas" for o in node.options or ()):
            return  # per-schema entries only add to the global defaults: they cannot revoke PUBLIC EXECUTE
        schemas = {"*"}
        if action.is_grant:
            self.schema.no_default_execute.difference_update(schemas)
        else:
            self.schema.no_default_execute.update(schemas)

    # -- triggers and publications ---------------------------------------------
    def _on_CreateTrigStmt(self, node: ast.CreateTrigStmt, parsed, where) -> None:
        table = relation_name(node.relation)
        self.schema.triggers[(table, node.trigname)] = Trigger(
            node.trigname, table, qualified(strings(node.funcname)),
            before=bool(node.timing & TRIGGER_BEFORE), row=bool(node.row),
            events=tuple(name for bit, name in TRIGGER_EVENTS.items() if node.events & bit),
            args=tuple(strings(node.args)), where=where,
            transition=tuple(t.name for t in node.transitionRels or ()), when=node.whenClause)

    def _on_CreatePublicationStmt(self, node: ast.CreatePublicationStmt, parsed, where) -> None:
        pub = Publication(node.pubname, where, all_tables=bool(node.for_all_tables))
        self._publication_options(pub, node.options)
        self._publication_tables(pub, node.pubobjects, parsed, where, add=True)
        self.schema.publications[node.pubname] = pub

    def _on_AlterPublicationStmt(self, node: ast.AlterPublicationStmt, parsed, where) -> None:
        from pglast.enums import AlterPublicationAction

        pub = self.schema.publications.get(node.pubname)
        if pub is None:
            return
        self._publication_options(pub, node.options)
        if node.action == AlterPublicationAction.AP_SetObjects and node.pubobjects:
            pub.tables.clear()
        self._publication_tables(pub, node.pubobjects, parsed, where,
                                 add=node.action != AlterPublicationAction.AP_DropObjects)

    @staticmethod
    def _publication_options(pub: Publication, options) -> None:
        for option in options or ():
            if option.defname == "publish":
                pub.publish = tuple(p.strip() for p in (const_string(option.arg) or "").split(",") if p.strip())

    def _publication_tables(self, pub: Publication, objects, parsed, where, *, add: bool) -> None:
        for obj in objects or ():
            if obj.pubtable is None:
                (pub.schemas.add if add else pub.schemas.discard)(obj.name or "public")
                continue
            name = relation_name(obj.pubtable.relation)
            if add:
                pub.tables[name] = PublishedTable(tuple(strings(obj.pubtable.columns)),
                                                  obj.pubtable.whereClause, where)
            else:
                pub.tables.pop(name, None)


def build_schema(parsed_sources: list[ParsedSource]) -> Schema:
    builder = Builder()
    for parsed in parsed_sources:
        if parsed.source.role in ("up", "declarative", "catalog"):
            builder.add(parsed)
    return builder.schema
