"""The queries Electric runs for a subquery shape use the indexes ARB025 asks for, on a crowded cluster:
the subquery's snapshot (one per caller), the shape's snapshot, and a move-in's query
(``house_id = ANY($values)``). ARB025 judges index definitions; this reads the planner's answer."""

from __future__ import annotations

import json

import psycopg
import pytest
from conftest import plan_nodes
from electric_moves import rewrite
from psycopg import sql
from test_policy_indexes import crowded  # noqa: F401 - the fixture: 4000 other tenants' houses and rows

from arbedb.electric.shapes import load_shapes

SHAPES = [("threads", "mine"), ("members", "mine")]


def _plan(conn, query: str, params: list) -> list[dict]:
    cur = psycopg.RawCursor(conn)
    return list(plan_nodes(cur.execute("EXPLAIN (FORMAT JSON) " + query, params).fetchone()[0][0]["Plan"]))


@pytest.mark.parametrize("table, name", SHAPES, ids=[".".join(s) for s in SHAPES])
def test_electric_queries_of_a_subquery_shape_scan_no_whole_table(arbedb_conn, arbedb_project, crowded,  # noqa: F811
                                                                  table, name):
    [shape] = [s for s in load_shapes(arbedb_project).all_shapes() if (s.table, s.name) == (table, name)]
    synced = load_shapes(arbedb_project).table(table)
    columns = sql.SQL(", ").join(map(sql.Identifier, synced.columns)).as_string(arbedb_conn)
    caller, mine = crowded["caller"], sorted(crowded["mine"])
    queries = {
        "subquery snapshot": (shape.subqueries[0].sql, [caller]),
        "shape snapshot": (f"SELECT {columns} FROM {synced.qualified} WHERE {shape.where}", [caller]),
        # A move-in: the new values bound as an array, rows matching them and not the old ones (none here).
        "move-in": (f"SELECT {columns} FROM {synced.qualified} WHERE {rewrite(shape.where, 2, typed=True)}",
                    [caller, mine]),
    }
    for what, (query, params) in queries.items():
        nodes = _plan(arbedb_conn, query, params)
        seq = [n["Relation Name"] for n in nodes if n["Node Type"] == "Seq Scan"]
        assert not seq, f"{table}.{name} {what}: sequential scan of {seq}\n" + json.dumps(nodes[0], indent=1)[:1500]
