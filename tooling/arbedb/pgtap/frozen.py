"""Worlds of `arbedb rls-test`'s generator, frozen into plain pgTAP (``--worlds N --seed S``).

Each world is drawn by the property test's own strategy with a fixed seed, loaded once into
a scratch transaction of a migrated database (always rolled back) the way rls-test loads
it, and read back: its rows become INSERTs in the file, and what each of its callers may
SELECT, by the property test's model, becomes one assertion per caller and table.

Rows are written back with triggers and foreign keys off (``session_replication_role =
replica``, which needs a superuser): the file holds the world exactly as the triggers made
it. Timestamps are kept relative to the load (rounded to the minute: the generator mixes
the client's clock with the server's), so an invite that had expired stays expired and one
that had not stays valid whenever the file runs. Reads only: the writes of a world depend on
its order of steps and stay with rls-test. anon is asserted by the matrix files (it holds no
SELECT privilege to read through).
"""

from __future__ import annotations

import json
from datetime import datetime

import psycopg
from hypothesis import HealthCheck, Phase, given, seed, settings

from ..permissions import Permissions
from ..rls.model import visible
from ..rls.worlds import callers, load, world_specs
from ..rls.writes import session
from .tap import SUPERUSER, frame, literal, quoted
from .world import make_id


def draw(perms: Permissions, count: int, seed_value: int) -> list:
    """``count`` world specs, the same ones for the same seed and declarations."""
    specs = []

    @seed(seed_value)
    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate], derandomize=False,
              suppress_health_check=list(HealthCheck), print_blob=False)
    @given(world_specs(perms))
    def collect(spec):
        specs.append(spec)

    collect()
    return specs[:count]


def _timestamp_columns(conn, relation: str) -> set[str]:
    return {r[0] for r in conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped "
        "AND atttypid = 'timestamptz'::regtype", (relation,))}


def _row_sql(relation: str, row: dict, stamps: set[str], now: datetime) -> str:
    plain = {k: v for k, v in row.items() if k not in stamps or v is None}
    moved = []
    for column in sorted(stamps & {k for k, v in row.items() if v is not None}):
        offset = round((datetime.fromisoformat(row[column]) - now).total_seconds() / 60)
        moved.append(f"{literal(column)}, now() + interval '{offset} minutes'")
    record = f"{literal(json.dumps(plain, sort_keys=True))}::jsonb"
    if moved:
        record += f" || jsonb_build_object({', '.join(moved)})"
    return f"INSERT INTO {relation} SELECT * FROM jsonb_populate_record(NULL::{relation}, {record});"


def _load_rows(conn, perms: Permissions, spec, relations) -> tuple:
    """Load the world in a rolled-back transaction: (its model, {relation: {id: row}}, the load's now())."""
    with conn.transaction(force_rollback=True):
        now = conn.execute("SELECT now()").fetchone()[0]
        before = {r: {str(row[0]) for row in conn.execute(f"SELECT id FROM {r}")} for r in relations}
        world = load(conn, spec, perms)
        rows = {r: {row["id"]: row for (row,) in conn.execute(f"SELECT to_jsonb(t) FROM {r} t")
                    if row["id"] not in before[r]} for r in relations}
    return world, rows, now


def _stable(first: dict, second: dict) -> dict[str, str]:
    """What to rename so that two loads of one spec read the same: ids only one load has (rows
    triggers made, with ids the database drew) become ids named by their content, and values that
    differ between the loads (drawn by the loader) become ones named by their row and column."""
    rename: dict[str, str] = {}
    for relation, rows in first.items():
        for row_id, row in rows.items():
            twin = second[relation].get(row_id)
            if twin is None:
                content = json.dumps({k: v for k, v in row.items() if k != "id" and not k.endswith("_at")},
                                     sort_keys=True)
                rename[row_id] = str(make_id(f"{relation} {content}"))
                continue
            for column, value in row.items():
                if isinstance(value, str) and value != twin.get(column) and not column.endswith("_at"):
                    rename[value] = make_id(f"{relation} {row_id} {column}").hex[:len(value)]
    return rename


def _renamed(text: str, rename: dict[str, str]) -> str:
    for old, new in rename.items():
        text = text.replace(old, new)
    return text


def freeze(conn, perms: Permissions, spec) -> tuple[str, list[str]]:
    """(SQL that recreates the world, its assertions), the same text for the same spec."""
    relations = ["auth.users"] + [f"public.{t}" for t in perms.names]
    world, rows, now = _load_rows(conn, perms, spec, relations)
    rename = _stable(rows, _load_rows(conn, perms, spec, relations)[1])
    lines = ["SET LOCAL session_replication_role = replica;"]
    for relation in relations:
        stamps = _timestamp_columns(conn, relation)
        texts = [_renamed(_row_sql(relation, row, stamps, now), rename) for row in rows[relation].values()]
        lines += sorted(texts)
    lines.append("SET LOCAL session_replication_role = origin;")
    tests = []
    for caller in callers(world):
        if caller.anon:
            continue
        role, claims = session(caller)
        raw = claims if claims is None or isinstance(claims, str) else json.dumps(claims, sort_keys=True)
        switch = f"SET LOCAL ROLE {role};\nSELECT set_config('request.jwt.claims', {literal(raw)}, true);\n"
        for table in perms.names:
            ids = sorted(rename.get(str(i), str(i)) for i in world.rows[table])
            if not ids:
                continue
            statement = (f"SELECT id FROM public.{table} WHERE id = ANY (ARRAY[{', '.join(literal(i) for i in ids)}]"
                         "::uuid[])")
            want = sorted(rename.get(str(i), str(i)) for i in visible(world, caller, table))
            text = literal(f"{caller.label} sees {len(want)} of the world's {len(ids)} {table}")
            if want:
                tests.append(switch + f"SELECT set_eq({quoted(statement)}, ARRAY[{', '.join(literal(i) for i in want)}]"
                                      f"::uuid[], {text});")
            else:
                tests.append(switch + f"SELECT is_empty({quoted(statement)}, {text});")
    return "\n".join(lines) + "\n", [_renamed(t, rename) for t in tests]


def frozen_files(perms: Permissions, dsn: str, count: int, seed_value: int) -> dict[str, tuple[str, int]]:
    files = {}
    with psycopg.connect(dsn) as conn:
        for n, spec in enumerate(draw(perms, count, seed_value), 1):
            world_sql, tests = freeze(conn, perms, spec)
            body = "\n".join([world_sql, *tests, SUPERUSER])
            files[f"30_world_{n:03d}.sql"] = (
                frame(f"rls-test world {n} of {count}, seed {seed_value}", body, len(tests)), len(tests))
    return files
