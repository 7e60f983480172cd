"""The property: in every generated world, the database agrees with the model.

For each world (loaded inside one transaction that is always rolled back):
- every caller x table: the rows SELECT returns are the model's;
- anon without grants is refused outright, and with grants leaked to it still
  sees and changes nothing (the policies name authenticated only);
- invite look-ups, API-key resolution and secret reads answer as the model says;
- random writes succeed exactly when the model allows them, and afterwards
  every table holds what the model holds.
"""

from __future__ import annotations

import psycopg
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from ..impersonate import acting_as, as_service
from . import model
from .model import TABLES, Caller, World
from .worlds import callers as callers_of
from .worlds import load, read_rows, world_specs
from .writes import execute, session, writes

WRITES_PER_WORLD = 8


class Disagreement(AssertionError):
    """The database and the model of SPEC §5 disagree."""


def _names(world: World):
    """Short labels for ids in messages: user0, house1, agents#2."""
    labels = {u: f"user{i}" for i, (u, _) in enumerate(sorted(world.users.items(), key=lambda kv: kv[1]))}
    for table, rows in world.rows.items():
        for i, row_id in enumerate(sorted(rows, key=str)):
            labels.setdefault(row_id, f"{table}#{i}")
    return lambda ids: sorted(labels.get(i, str(i)[:8]) for i in ids)


# Every table's visible ids in one statement: RLS applies to each arm on its own.
VISIBLE_IDS = " UNION ALL ".join(f"SELECT '{t}', id FROM public.{t}" for t in TABLES)
LOOKUPS = ("SELECT t, l.house_id, l.house_name, l.role FROM unnest(%s::text[]) AS t "
           "LEFT JOIN LATERAL arbe.lookup_invite(t) AS l ON true")


def check_reads(conn, world: World, callers: list[Caller]) -> None:
    name = _names(world)
    tokens = sorted(world.tokens)
    for caller in callers:
        with acting_as(conn, *session(caller)) as cur:
            seen = {t: set() for t in TABLES}
            for table, row_id in cur.execute(VISIBLE_IDS).fetchall():
                seen[table].add(row_id)
            looked = {} if caller.anon else {r[0]: (r[1:] if r[1] else None)
                                             for r in cur.execute(LOOKUPS, (tokens,)).fetchall()}
        for table in TABLES:
            expected = model.visible(world, caller, table)
            if seen[table] != expected:
                raise Disagreement(f"{caller.label} SELECT {table}: database shows {name(seen[table])}, "
                                   f"model says {name(expected)}")
        for token, row in looked.items():
            if row != model.lookup(world, caller, token):
                raise Disagreement(f"{caller.label} lookup_invite({token[:14]}…): database {row}, "
                                   f"model {model.lookup(world, caller, token)}")
    with as_service(conn) as cur:
        for key in sorted(world.keys):
            got = cur.execute("SELECT api_key_id, house_id, agent_id FROM arbe.resolve_api_key(%s)", (key,)).fetchone()
            if got != model.resolves(world, key):
                raise Disagreement(f"resolve_api_key({key[:14]}…): database {got}, model {model.resolves(world, key)}")
        for secret in sorted(world.rows["secrets"]):
            got = cur.execute("SELECT arbe.read_secret(%s)", (secret,)).fetchone()[0]
            if got != model.secret_value(world, secret):
                raise Disagreement(f"read_secret({name([secret])[0]}): database {got!r}, "
                                   f"model {model.secret_value(world, secret)!r}")


def check_anon_refused(conn) -> None:
    for table in TABLES:
        try:
            with acting_as(conn, "anon", {"role": "anon"}) as cur:
                cur.execute(f"SELECT 1 FROM public.{table} LIMIT 1")
        except psycopg.errors.InsufficientPrivilege:
            continue
        raise Disagreement(f"anon SELECT {table}: allowed, model says no privilege at all")


def leak_grants_to_anon(conn) -> None:
    """As if Supabase's default privileges had handed anon the tables again."""
    conn.execute(f"GRANT SELECT, INSERT, UPDATE ON {', '.join('public.' + t for t in TABLES)} TO anon")


def _adopt(conn, world: World, pending: list) -> None:
    """Rows the database created with ids only it knows: match them to the model's."""
    for table in {t for t, _ in pending}:
        fresh = {i: r for i, r in read_rows(conn, table).items() if i not in world.rows[table]}
        expected = [r for t, r in pending if t == table]
        for row in expected:
            match = next((i for i, r in fresh.items() if r.key() == row.key()), None)
            if match is None:
                raise Disagreement(f"expected a new {table} row {row.data} in house {str(row.house_id)[:8]}; "
                                   f"the database made {[r.data for r in fresh.values()]}")
            row.id = match
            world.rows[table][match] = fresh.pop(match)


def check_state(conn, world: World, after: str) -> None:
    name = _names(world)
    for table in TABLES:
        db = read_rows(conn, table)
        if {i: r.key() for i, r in db.items()} != {i: r.key() for i, r in world.rows[table].items()}:
            extra = set(db) - set(world.rows[table])
            changed = [i for i in db if i in world.rows[table] and db[i].key() != world.rows[table][i].key()]
            raise Disagreement(f"after {after}: {table} differs: unexpected rows {name(extra)}, "
                               f"missing {name(set(world.rows[table]) - set(db))}, changed "
                               + "; ".join(f"{name([i])[0]} db={db[i].data} model={world.rows[table][i].data}"
                                           for i in changed))


def check_write(conn, world: World, caller: Caller, write) -> None:
    expected = model.allowed(world, caller, write)
    accepted, returned, seen = execute(conn, caller, write)
    if accepted != expected:
        raise Disagreement(f"{caller.label}: {write!r} was {'accepted' if accepted else 'refused'} ({seen}); "
                           f"model says {'allow' if expected else 'refuse'}")
    if accepted:
        pending = model.apply(world, caller, write)
        _adopt(conn, world, pending)
        if write.__class__ is model.Call and write.function == "create_invite":
            world.tokens[returned] = next(r.id for t, r in pending if t == "invites")
        if write.__class__ is model.Call and write.function == "create_api_key":
            world.keys[returned] = next(r.id for t, r in pending if t == "api_keys")
    check_state(conn, world, f"{caller.label}: {write!r}")


def check_world(conn, spec, data, n_writes: int = WRITES_PER_WORLD) -> None:
    """The whole property for one world; everything is rolled back afterwards."""
    with conn.transaction(force_rollback=True):
        world = load(conn, spec)
        callers = callers_of(world)
        check_anon_refused(conn)
        leak_grants_to_anon(conn)
        check_reads(conn, world, callers)
        for _ in range(n_writes):
            caller, write = data.draw(writes(world, callers))
            check_write(conn, world, caller, write)
        check_reads(conn, world, callers)


def run(dsn: str, *, examples: int = 100, seed_value: int = 0, on_example=None, shrink: bool = True) -> None:
    """Run the property ``examples`` times; raises Disagreement (after shrinking)."""
    phases = [Phase.explicit, Phase.generate] + ([Phase.shrink] if shrink else [])
    with psycopg.connect(dsn) as conn:

        @seed(seed_value)
        @settings(max_examples=examples, database=None, deadline=None, phases=phases, derandomize=False,
                  suppress_health_check=list(HealthCheck), print_blob=False)
        @given(spec=world_specs(), data=st.data())
        def database_agrees_with_model(spec, data):
            check_world(conn, spec, data)
            if on_example:
                on_example()

        database_agrees_with_model()
