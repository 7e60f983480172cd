"""A child row can never point at a parent in another house; house_id is inherited
from the parent where SPEC §4 says so; a bad identity is nobody."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import errors

from arbedb.testing.impersonate import acting_as, as_user
from arbedb.testing.world import WorldBuilder

# (child table, parent column, parent table)
PAIRS = [
    ("threads", "agent_id", "agents"),
    ("threads", "environment_id", "environments"),
    ("configs", "agent_id", "agents"),
    ("configs", "environment_id", "environments"),
    ("secrets", "environment_id", "environments"),
    ("api_keys", "agent_id", "agents"),
]


@pytest.fixture
def two_houses(arbedb_conn):
    w = WorldBuilder(arbedb_conn)
    owner = w.user("o@example.com")
    h1, h2 = w.house("one", created_by=owner), w.house("two", created_by=owner)
    parents = {(h, t): w.row(t, h) for h in (h1, h2) for t in ("agents", "environments")}
    arbedb_conn.commit()
    return w, owner, h1, h2, parents


@pytest.mark.parametrize("child,column,parent", PAIRS)
def test_child_inherits_parents_house(arbedb_conn, two_houses, child, column, parent):
    w, _owner, h1, _h2, parents = two_houses
    row = w.row(child, None, **{column: parents[(h1, parent)]})
    assert arbedb_conn.execute(f"SELECT house_id FROM {child} WHERE id = %s", (row,)).fetchone()[0] == h1


@pytest.mark.parametrize("child,column,parent", PAIRS)
def test_child_cannot_reference_a_parent_in_another_house(arbedb_conn, two_houses, child, column, parent):
    w, _owner, h1, h2, parents = two_houses
    with pytest.raises(errors.ForeignKeyViolation):
        with arbedb_conn.transaction():
            w.row(child, h1, **{column: parents[(h2, parent)]})
    # Nor can an existing child be re-pointed across houses.
    row = w.row(child, h1, **{column: parents[(h1, parent)]})
    with pytest.raises(errors.ForeignKeyViolation):
        with arbedb_conn.transaction():
            arbedb_conn.execute(f"UPDATE {child} SET {column} = %s WHERE id = %s", (parents[(h2, parent)], row))


def test_member_must_reference_an_existing_house(arbedb_conn, two_houses):
    w, owner, *_ = two_houses
    with pytest.raises(errors.ForeignKeyViolation):
        w.member(uuid.uuid4(), owner)


def test_a_parent_the_caller_cannot_see_lends_no_house(arbedb_conn, two_houses):
    w, _owner, _h1, h2, parents = two_houses
    outsider = w.user("x@example.com")
    mine = w.house("mine", created_by=outsider)
    arbedb_conn.commit()
    # house_id stays NULL, so the INSERT policy refuses the row before NOT NULL would.
    with pytest.raises(errors.InsufficientPrivilege) as err:
        with as_user(arbedb_conn, outsider) as cur:
            cur.execute("INSERT INTO threads (agent_id, kind, status) VALUES (%s, 'chat', 'open')",
                        (parents[(h2, "agents")],))
    assert str(h2) not in str(err.value)
    with pytest.raises(errors.ForeignKeyViolation):
        with as_user(arbedb_conn, outsider) as cur:
            cur.execute("INSERT INTO threads (house_id, agent_id, kind, status) VALUES (%s, %s, 'chat', 'open')",
                        (mine, parents[(h2, "agents")]))


BAD_CLAIMS = {
    "missing": None,
    "empty": "",
    "malformed": "{not json",
    "no sub": '{"role":"authenticated"}',
    "empty sub": '{"sub":"","role":"authenticated"}',
    "non-uuid sub": '{"sub":"alice","role":"authenticated"}',
    "array": '["x"]',
    "service_role claim": None,  # filled in with a real member's sub below
}


@pytest.mark.parametrize("case", BAD_CLAIMS)
def test_bad_identity_is_nobody(arbedb_conn, two_houses, case):
    _w, owner, h1, _h2, _parents = two_houses
    claims = BAD_CLAIMS[case]
    if case == "service_role claim":
        claims = f'{{"sub":"{owner}","role":"service_role"}}'
    with acting_as(arbedb_conn, "authenticated", claims) as cur:
        for table in ["houses", "members", "agents", "environments", "threads"]:
            assert cur.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
        assert cur.execute("SELECT arbe.caller_id(), arbe.is_house_member(%s)", (h1,)).fetchone() == (None, False)
        cur.execute("UPDATE agents SET name = 'x'")
        assert cur.rowcount == 0
    for statement, params in [
        ("INSERT INTO threads (house_id, kind, status) VALUES (%s, 'chat', 'open')", (h1,)),
        ("INSERT INTO houses (name) VALUES ('h')", ()),
        ("SELECT arbe.create_invite(%s, 'a@b.c', 'member')", (h1,)),
    ]:
        with pytest.raises(psycopg.Error) as err:
            with acting_as(arbedb_conn, "authenticated", claims) as cur:
                cur.execute(statement, params)
        assert str(h1) not in str(err.value) and "one" not in str(err.value).split()


def test_a_good_identity_is_somebody(arbedb_conn, two_houses):
    """The twin of the cases above: the same queries with a valid token see the house."""
    _w, owner, h1, _h2, _parents = two_houses
    with as_user(arbedb_conn, owner) as cur:
        assert cur.execute("SELECT count(*) FROM houses").fetchone()[0] == 2
        assert cur.execute("SELECT arbe.caller_id(), arbe.is_house_member(%s)", (h1,)).fetchone() == (owner, True)
