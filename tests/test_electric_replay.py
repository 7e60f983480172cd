"""Property: replaying the stream into each declared shape gives exactly what the shape's query returns.

For random write sequences (inserts, edits, soft deletes and restores, hard
deletes, truncates, grouped into random transactions), a consumer that applies
every decoded change to every shape — the new row entering when it matches
the declared WHERE, the old row leaving when only it matched — ends holding
exactly ``SELECT <columns> FROM t WHERE house_id = $1 AND deleted_at IS NULL``.
"""

from __future__ import annotations

import uuid

from electric_support import Replay, Stream, run_shape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from arbedb.electric.shapes import load_shapes
from arbedb.testing.world import WorldBuilder

TABLES = ("agents", "environments", "threads", "configs")
HOUSES = 2

insert = st.tuples(st.just("insert"), st.sampled_from(TABLES), st.integers(0, HOUSES - 1), st.booleans())
edit = st.tuples(st.sampled_from(["rename", "soft_delete", "restore", "delete"]), st.integers(0, 50))
house_edit = st.tuples(st.sampled_from(["soft_delete_house", "restore_house"]), st.integers(0, HOUSES - 1))
truncate = st.just(("truncate",))
operation = st.tuples(st.one_of(insert, insert, edit, edit, house_edit, truncate), st.booleans())  # (op, commit after)


def _apply(conn, op, houses, rows, n):
    kind = op[0]
    if kind == "insert":
        _, table, house, deleted = op
        values = {"name": f"n{n}"} if table in ("agents", "environments") else {"key": f"k{n}"} if table == "configs" \
            else {"title": f"t{n}"}
        if deleted:
            values["deleted_at"] = "2026-01-01T00:00:00Z"
        rows.append((table, WorldBuilder(conn).row(table, houses[house], **values)))
        return
    if kind == "truncate":
        conn.execute("TRUNCATE public.configs")
        rows[:] = [r for r in rows if r[0] != "configs"]
        return
    if kind.endswith("_house"):
        table, row_id = "houses", houses[op[1]]
    elif not rows:
        return
    else:
        table, row_id = rows[op[1] % len(rows)]
    target = sql.Identifier("public", table)
    if kind == "delete":
        conn.execute(sql.SQL("DELETE FROM {} WHERE id = %s").format(target), (row_id,))
        rows.remove((table, row_id))
        return
    assignment = {
        "rename": "updated_at = now() + interval '1 second'",
        "soft_delete": "deleted_at = now()", "soft_delete_house": "deleted_at = now()",
        "restore": "deleted_at = NULL", "restore_house": "deleted_at = NULL",
    }[kind]
    conn.execute(sql.SQL("UPDATE {} SET " + assignment + " WHERE id = %s").format(target), (row_id,))


@settings(max_examples=20, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(operations=st.lists(operation, min_size=1, max_size=25))
def test_replayed_shapes_equal_the_shape_queries(arbedb_conn, arbedb_dsn, arbedb_project, operations):
    shapes = load_shapes(arbedb_project)
    stream = Stream(arbedb_dsn, arbedb_project.publication)
    try:
        w = WorldBuilder(arbedb_conn)
        houses = [w.house(f"h{i}") for i in range(HOUSES)]
        arbedb_conn.commit()
        rows: list[tuple[str, uuid.UUID]] = []
        for n, (op, commit_after) in enumerate(operations):
            _apply(arbedb_conn, op, houses, rows, n)
            if commit_after:
                arbedb_conn.commit()
        arbedb_conn.commit()
        transactions = stream.read()
    finally:
        stream.close()

    with arbedb_conn.transaction(force_rollback=True):
        for name in ("houses", *TABLES):
            table = shapes.table(name)
            [shape] = [s for s in table.shapes if s.name == "house"]
            replay = Replay(arbedb_conn, table, transactions)
            for house in houses:
                assert replay.materialise(shape, [house]) == run_shape(arbedb_conn, table, shape, [house]), \
                    (name, operations)
