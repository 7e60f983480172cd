"""Property: the shapes the declarations allow a caller show exactly what RLS shows that caller.

The proxy picks shapes by the caller's house role (``arbe.house_role``) and the
declared ``role``; Electric evaluates them as the ``electric`` role, which
bypasses RLS. For random worlds — users, houses (some soft-deleted),
memberships of every role (some soft-deleted), rows live and soft-deleted in
every synced table — and for every caller and house, the union of allowed
shapes restricted to that house equals the live rows RLS lets the caller see
there. So the proxy can never show more than RLS would (nor less).
"""

from __future__ import annotations

from electric_support import run_shape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from arbedb.electric.publication import role_name
from arbedb.testing.impersonate import acting_as, as_user
from arbedb.electric.shapes import load_shapes
from arbedb.testing.world import WorldBuilder

USERS, HOUSES = 3, 2
CHILD_TABLES = ("agents", "environments", "threads", "configs", "secrets", "invites", "api_keys")
DELETED = "2026-01-01T00:00:00Z"

worlds = st.fixed_dictionaries({
    "deleted_houses": st.lists(st.booleans(), min_size=HOUSES, max_size=HOUSES),
    # per (house, user): None (never a member), or (role, soft-deleted?)
    "memberships": st.lists(
        st.one_of(st.none(), st.tuples(st.sampled_from(["owner", "admin", "member"]), st.booleans())),
        min_size=HOUSES * USERS, max_size=HOUSES * USERS),
    # extra rows beyond the live and the soft-deleted one every table has in every house
    "rows": st.lists(st.tuples(st.sampled_from(CHILD_TABLES), st.integers(0, HOUSES - 1), st.booleans()),
                     max_size=6),
})
BASE_ROWS = [(table, house, deleted) for table in CHILD_TABLES for house in range(HOUSES) for deleted in (False, True)]


def _build(conn, world):
    w = WorldBuilder(conn)
    users = [w.user(f"u{i}@example.com") for i in range(USERS)]
    houses = [w.house(f"h{i}", **({"deleted_at": DELETED} if deleted else {}))
              for i, deleted in enumerate(world["deleted_houses"])]
    for i, membership in enumerate(world["memberships"]):
        if membership is not None:
            role, deleted = membership
            w.member(houses[i // USERS], users[i % USERS], role, **({"deleted_at": DELETED} if deleted else {}))
    for n, (table, house, deleted) in enumerate(BASE_ROWS + world["rows"]):
        extra = {"deleted_at": DELETED} if deleted else {}
        unique = {"invites": ("email", f"invitee{n}@example.com"), "configs": ("key", f"k{n}"),
                  "threads": ("title", f"t{n}")}.get(table, ("name", f"n{n}"))
        extra[unique[0]] = unique[1]
        w.row(table, houses[house], **extra)
    return users, houses


@settings(max_examples=15, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(world=worlds)
def test_allowed_shapes_show_exactly_what_rls_shows(arbedb_conn, arbedb_project, world):
    shapes = load_shapes(arbedb_project)
    electric = role_name(arbedb_project)
    with arbedb_conn.transaction(force_rollback=True):
        users, houses = _build(arbedb_conn, world)
        for table in shapes.tables:
            house_at = table.columns.index("house_id")
            with acting_as(arbedb_conn, electric, None):  # Electric's view: every row
                everything = {shape.name: {str(p): run_shape(arbedb_conn, table, shape, [p]) for p in users + houses}
                              for shape in table.shapes if shape.caller == "user"}  # key shapes: test_electric_key_shapes
            query = sql.SQL("SELECT {} FROM {} WHERE house_id = %s AND deleted_at IS NULL").format(
                sql.SQL(", ").join(map(sql.Identifier, table.columns)), sql.Identifier(table.schema, table.name))
            for user in users:
                for house in houses:
                    with as_user(arbedb_conn, user) as cur:
                        house_role = cur.execute("SELECT arbe.house_role(%s)", (house,)).fetchone()[0]
                        seen_by_rls = {repr(r) for r in cur.execute(query, (house,))}
                    proxied = set()
                    for shape in table.shapes:
                        if not shape.allows(house_role):
                            continue
                        bound = house if shape.params == ("house",) else user
                        proxied |= {repr(r) for r in everything[shape.name][str(bound)] if r[house_at] == house}
                    assert proxied == seen_by_rls, (table.name, house_role, world)
