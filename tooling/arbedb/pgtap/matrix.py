"""One matrix file per declared table: each caller's SELECT, INSERT, UPDATE and soft delete,
executed as that caller, asserted to succeed or be refused as the declarations say.

A refusal is asserted as PostgreSQL gives it: a command the role holds no privilege for
throws 42501 (``throws_ok``), as does an INSERT row-level security rejects; a SELECT that
row-level security filters is empty (``is_empty``); an UPDATE it filters changes no row, or
throws 42501 when its WITH CHECK rejects the new row. Privileges are read from the
project's SQL. Every successful write targets a row of its own, so one success never hides
another caller's outcome; the house is soft-deleted last.
"""

from __future__ import annotations

from ..permissions import Permissions, TableRules
from .expect import actions, outcome, update_probe
from .tap import SUPERUSER, frame, literal, quoted
from .world import CALLERS, USERS, World, act_as, insert, make_id

HELPER = """-- Rows an UPDATE changed, or its refusal: a filtered UPDATE and a rejected one both change nothing.
CREATE FUNCTION pg_temp.arbedb_changed(statement text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE n bigint;
BEGIN
    EXECUTE statement;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN 'changed ' || n;
EXCEPTION WHEN insufficient_privilege THEN
    RETURN 'refused 42501';
END
$f$;
GRANT EXECUTE ON FUNCTION pg_temp.arbedb_changed(text) TO PUBLIC;
"""


def callers(world: World) -> list[str]:
    return [c for c in CALLERS if c in USERS or c == "anon" or c in world.keys]


def targets(world: World) -> dict[str, list[str]]:
    """Per table, a row of its own for each caller whose soft delete must succeed (houses: H, last)."""
    out = {}
    for name, rules in world.permissions.tables.items():
        if rules.special not in ("houses", "members"):
            out[name] = [f"soft delete by {c}" for c in callers(world) if outcome(world, rules, "soft delete", c)]
    return out


class Privileges:
    """What a role may attempt on a table, from the project's GRANTs (unknown tables: anything)."""

    def __init__(self, schema):
        self.schema = schema

    def holds(self, table: str, caller: str, privilege: str, column: str | None = None) -> bool:
        found = self.schema.tables.get(f"public.{table}")
        if found is None:
            return True
        role = "anon" if caller == "anon" else "authenticated"
        whole = found.grants.get(role, set()) | found.grants.get("public", set())
        columns = found.column_grants.get(role, set()) | found.column_grants.get("public", set())
        return privilege in whole or (column is not None and (privilege, column) in columns)


def _insert_values(world: World, rules: TableRules, caller: str) -> dict:
    row_id = make_id(f"{rules.name} inserted by {caller}")
    author = world.users.get(caller)
    if rules.special == "houses":
        return {"id": row_id, "name": f"pgtap new {caller}", "created_by": author}
    if rules.special == "members":
        return {"id": row_id, "house_id": world.house, "user_id": author or world.users["outsider"], "role": "member"}
    values = world.row_values(rules, row_id, author)
    if caller == "agent key" and rules.agent_column:
        values[rules.agent_column] = world.sample_agent
    return values


def assertion(world: World, privileges: Privileges, rules: TableRules, action: str, caller: str) -> str | None:
    label = "main"
    if action == "soft delete" and rules.special != "houses" and outcome(world, rules, action, caller):
        label = f"soft delete by {caller}"
    allowed = outcome(world, rules, action, caller, label)
    if allowed is None:
        return None
    table, row = rules.name, world.row(rules.name, label)
    text = f"{caller} {'may' if allowed else 'may not'} {action} {table}"
    if action == "select":
        statement = f"SELECT id FROM public.{table} WHERE id = {literal(row)}"
        if allowed:
            return f"SELECT results_eq({quoted(statement)}, {quoted(f'VALUES ({literal(row)})')}, {literal(text)});"
        if privileges.holds(table, caller, "select"):
            return f"SELECT is_empty({quoted(statement)}, {literal(text)});"
        return f"SELECT throws_ok({quoted(statement)}, '42501', NULL, {literal(text)});"
    if action == "insert":
        statement = insert(table, _insert_values(world, rules, caller)).rstrip(";")
        if allowed:
            return f"SELECT lives_ok({quoted(statement)}, {literal(text)});"
        return f"SELECT throws_ok({quoted(statement)}, '42501', NULL, {literal(text)});"
    column = "deleted_at" if action == "soft delete" else action.removeprefix("update ")
    value = "now()" if action == "soft delete" else update_probe(rules)[1]
    statement = f"UPDATE public.{table} SET {column} = {value} WHERE id = {literal(row)}"
    if allowed:
        return f"SELECT is(pg_temp.arbedb_changed({quoted(statement)}), 'changed 1', {literal(text)});"
    if not privileges.holds(table, caller, "update", column):
        return f"SELECT throws_ok({quoted(statement)}, '42501', NULL, {literal(text)});"
    return (f"SELECT matches(pg_temp.arbedb_changed({quoted(statement)}), '^(changed 0|refused 42501)$', "
            f"{literal(text)});")


def matrix_file(world: World, world_sql: str, privileges: Privileges, rules: TableRules) -> tuple[str, int]:
    body, count = [HELPER, world_sql], 0
    for action in actions(rules):
        order = callers(world)
        if action == "soft delete":  # refusals first: a house soft-deleted by its owner ends the world
            order = sorted(order, key=lambda c: bool(outcome(world, rules, action, c)))
        for caller in order:
            test = assertion(world, privileges, rules, action, caller)
            if test is not None:
                body.append(act_as(world, caller) + test)
                count += 1
    body.append(SUPERUSER)
    return frame(f"permission matrix of public.{rules.name}", "\n".join(body), count), count


def matrix_files(permissions: Permissions, schema, build) -> dict[str, tuple[str, int]]:
    first, _ = build(permissions, {})
    world, world_sql = build(permissions, targets(first))
    privileges = Privileges(schema)
    return {f"20_matrix_{name}.sql": matrix_file(world, world_sql, privileges, rules)
            for name, rules in permissions.tables.items()}
