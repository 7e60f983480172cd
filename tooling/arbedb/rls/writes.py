"""Random writes against a world, and running one as its caller.

Writes are drawn from the ids the world holds right now, so they hit real rows
(and, on purpose, rows of other houses, immutable columns, other users' ids).
"""

from __future__ import annotations

from functools import lru_cache

from hypothesis import strategies as st
from psycopg import sql

from ..testing.impersonate import key_claims, user_claims
from ..testing.probes import Outcome, Probes, kept
from ..permissions import Permissions
from .model import ROLES_ALL, Call, Caller, Delete, Insert, Update, World, email_key

NOW = "now"  # an Update value meaning now()
CLIENT_TIME = "2000-01-01T00:00:00Z"

# Per table, the columns an UPDATE may try, each with where its values come from
# (the declarations' update_probes): "now", literal values, or ids of a table
# ("@users", "@houses", "@agents").


def session(caller: Caller) -> tuple[str, dict | str | None]:
    """The database role and JWT claims a caller runs with (docs/model.md §2)."""
    if caller.role:
        return caller.role, caller.claims
    if caller.anon:
        return "anon", {"role": "anon"}
    if caller.user_id is not None:
        return "authenticated", user_claims(caller.user_id, caller.email)
    if caller.api_key_id is not None:
        return "authenticated", key_claims(caller.api_key_id)
    return "authenticated", caller.claims


def _ids(world: World, table: str) -> list:
    """Ids in an order that depends only on content: rows made by the database
    (owner memberships, invites from functions) get random ids, and hypothesis
    needs the same draws to pick the same rows when it replays an example."""
    if table == "users":
        return sorted(world.users, key=lambda u: world.users[u] or "")
    rows = world.rows[table]
    return sorted(rows, key=lambda i: (str(rows[i].key()), str(i)))


def _insiders(world: World, callers: list[Caller], house) -> list[Caller]:
    """The callers with a live membership in ``house``: the ones whose writes the
    rules are about. Writes are drawn mostly from them, so a world of a few
    houses exercises each role's allowed and refused writes, not only outsiders'."""
    return [c for c in callers if c.user_id and world.role_in(c.user_id, house)]


@st.composite
def writes(draw, world: World, callers: list[Caller]):
    """(caller, write) for the world as it is now."""
    houses = _ids(world, "houses")
    maybe = lambda table: st.none() | st.sampled_from(_ids(world, table)) if world.rows[table] else st.none()  # noqa: E731

    def caller_for(house):
        insiders = _insiders(world, callers, house)
        return draw(st.sampled_from(insiders) if insiders and draw(st.integers(0, 3)) else st.sampled_from(callers))

    kind = draw(st.sampled_from(("insert", "update", "update", "update", "call")))
    if kind == "insert":
        table = draw(st.sampled_from(world.perms.names))
        house = draw(st.sampled_from(houses))
        caller = caller_for(house)
        author = draw(st.sampled_from((None, caller.user_id) + tuple(_ids(world, "users")[:2])))

        def parent(kind):  # mostly one of the house's own, sometimes any, or none
            own = [i for i in _ids(world, kind) if world.rows[kind][i].house_id == house]
            return draw(st.none() | st.sampled_from(own) if own and draw(st.integers(0, 3)) else maybe(kind))
        parents = tuple((column, parent(kind)) for column, kind in world.perms[table].parents)
        given = draw(st.booleans()) or not any(v for _, v in parents)  # else left to the inheriting trigger
        return caller, Insert(table, draw(st.uuids(version=4)), house if given else None, author, parents)
    if kind == "update":
        tables = [t for t in world.perms.names if world.rows[t] and world.perms[t].update_probes]
        table = draw(st.sampled_from(tables))
        row = draw(st.sampled_from(_ids(world, table)))
        caller = caller_for(world.rows[table][row].house_id)
        probes = world.perms[table].update_probes
        column = draw(st.sampled_from(sorted(probes)))
        source = probes[column]
        if source == NOW:
            value = NOW
        elif isinstance(source, str):
            rules = world.perms[table]
            nullable = column in dict(rules.parents) and column not in rules.required  # a parent may be unset
            value = draw(maybe(source[1:])) if nullable else draw(st.sampled_from(_ids(world, source[1:])))
        else:
            value = draw(st.sampled_from(source))
        return caller, Update(table, row, column, value)
    function = draw(st.sampled_from(("create_invite", "accept_invite", "create_api_key", "set_secret")))
    house = draw(st.sampled_from(houses))
    if function == "accept_invite":
        token = draw(st.sampled_from(list(world.tokens) + ["token-wrong"]))  # in the order they were made: replayable
        invite = world.rows["invites"].get(world.tokens.get(token))
        invitees = [c for c in callers if invite and c.email and email_key(c.email) == invite.data["email"]]
        caller = draw(st.sampled_from(invitees)) if invitees and draw(st.booleans()) else draw(st.sampled_from(callers))
        return caller, Call(function, (token,))
    if function == "set_secret" and world.rows["secrets"]:
        secret = draw(st.sampled_from(_ids(world, "secrets")))
        return caller_for(world.rows["secrets"][secret].house_id), Call(function, (secret, "s3cret"))
    caller = caller_for(house)
    if function == "create_invite":
        emails = [e for e in world.users.values() if e] + ["not-an-email"]
        return caller, Call(function, (house, draw(st.sampled_from(emails)), draw(st.sampled_from(ROLES_ALL))))
    return caller, Call("create_api_key", (house, draw(maybe("agents")), "key"))


def _statement(write, perms: Permissions) -> tuple[str, list]:
    if isinstance(write, Insert):
        rules = perms[write.table]
        values = {"id": write.id, "house_id": write.house_id}
        named = {"created_by": write.created_by, **dict(write.parents)}
        values.update({c: named.get(c) for c in rules.insert_columns})
        values.update(rules.insert_values(write.id))
        # A client's own clock, which the database must not keep (checks.check_state).
        values.update(created_at=CLIENT_TIME, updated_at=CLIENT_TIME)
        values = {k: v for k, v in values.items() if v is not None}
        return _text("insert", write.table, tuple(values)), list(values.values())
    if isinstance(write, Update):
        now = write.value == NOW
        return _text("update", write.table, (write.column, now)), [write.row_id] if now else [write.value, write.row_id]
    if isinstance(write, Delete):
        return _text("delete", write.table, ()), [write.row_id]
    return _text("call", f"{write.schema}.{write.function}", len(write.args)), list(write.args)


@lru_cache(maxsize=None)
def _text(kind: str, name: str, shape) -> str:
    """A statement's text with placeholders, composed once per shape (the sweep
    sends tens of thousands of statements of a few hundred shapes)."""
    if kind == "insert":
        statement = sql.SQL("INSERT INTO public.{} ({}) VALUES ({})").format(
            sql.Identifier(name), sql.SQL(", ").join(map(sql.Identifier, shape)),
            sql.SQL(", ").join(sql.Placeholder() * len(shape)))
    elif kind == "update":
        column, now = shape
        statement = sql.SQL("UPDATE public.{} SET {} = {} WHERE id = %s").format(
            sql.Identifier(name), sql.Identifier(column), sql.SQL("now()") if now else sql.Placeholder())
    elif kind == "delete":
        statement = sql.SQL("DELETE FROM public.{} WHERE id = %s").format(sql.Identifier(name))
    else:
        schema, function = name.split(".")
        statement = sql.SQL("SELECT {}.{}({})").format(sql.Identifier(schema), sql.Identifier(function),
                                                      sql.SQL(", ").join(sql.Placeholder() * shape))
    return statement.as_string()


def _verdict(write, error: str | None, row_count: int | None, value) -> tuple[bool, object, str]:
    """(accepted, what a function returned, what was seen) of a write that failed
    with ``error`` or processed ``row_count`` rows: a call is accepted when it
    runs, an INSERT or UPDATE when it reaches exactly its one row."""
    if error:
        return False, None, error
    if isinstance(write, Call):
        return True, value, "returned"
    if row_count != 1:
        return False, None, f"{row_count} rows"
    return True, None, "1 row"


def execute(conn, perms: Permissions, caller: Caller, write) -> tuple[bool, object, str]:
    """Run the write as the caller and keep it when it succeeds. Returns
    (accepted, what a function returned, what was seen)."""
    return judge_kept(write, conn.execute(*keep_write(conn, perms, caller, write)).fetchone())


def keep_write(conn, perms: Permissions, caller: Caller, write) -> tuple[str, tuple]:
    """The statement that runs the write as the caller, kept when it succeeds (one
    statement: it can share a pipeline with the reads around it); judge_kept reads its answer."""
    statement, params = _statement(write, perms)
    return kept(conn, *session(caller), statement, params, returns_value=isinstance(write, Call))


def judge_kept(write, row) -> tuple[bool, object, str]:
    o = Outcome(*row)
    return _verdict(write, o.error_code and f"{o.error_code}: {o.error_message}", o.row_count, o.value)


def try_write(probes: Probes, perms: Permissions, caller: Caller, write, then) -> None:
    """Queue the write as the caller, always undone (a probe); when the batch
    runs, ``then((accepted, what a function returned, what was seen))``."""
    statement, params = _statement(write, perms)

    def judged(o: Outcome):
        then(_verdict(write, o.error_code and f"{o.error_code}: {o.error_message}", o.row_count, o.value))

    probes.add(*session(caller), statement, params, returns_value=isinstance(write, Call), then=judged)


def bulk_touch(probes: Probes, perms: Permissions, caller: Caller, table: str, then) -> None:
    """Queue ``UPDATE table SET <column> = now()`` with no WHERE, always undone;
    ``then(rows touched, or None on error)`` when the batch runs."""
    statement = sql.SQL("UPDATE public.{} SET {} = now()").format(sql.Identifier(table),
                                                                  sql.Identifier(perms[table].bulk_column))
    probes.add(*session(caller), statement, then=lambda o: then(None if o.error_code else o.row_count))
