"""SPEC §5, cell by cell: each allowed case and its denied twin, as callers impersonated
the Supabase way. A denied SELECT shows no rows; a denied write either raises (and
the test names the error) or touches zero rows (and the test counts them)."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import errors

from arbedb.testing.impersonate import acting_as, as_anon, as_user
from arbedb.testing.world import WorldBuilder

HOUSE_TABLES = ["houses", "members", "agents", "environments", "threads", "configs", "secrets", "invites",
                "api_keys"]
MEMBER_READABLE = ["agents", "environments", "threads", "configs", "secrets"]
ADMIN_WRITABLE = ["agents", "environments", "configs", "secrets"]


class World:
    """Two houses. H: owner O, admin A, member M, and L who left. H2: owner X."""

    def __init__(self, conn):
        w = WorldBuilder(conn)
        self.O, self.A, self.M, self.L, self.X = (w.user(f"{n}@example.com") for n in "oamlx")
        self.H = w.house("Home", created_by=self.O)
        self.H2 = w.house("Elsewhere", created_by=self.X)
        w.member(self.H, self.A, "admin")
        self.m_member = w.member(self.H, self.M, "member")
        w.member(self.H, self.L, "member", deleted_at="2026-01-01")
        self.rows = {}
        for house in (self.H, self.H2):
            agent = w.row("agents", house)
            env = w.row("environments", house)
            self.rows[house] = {
                "agents": agent, "environments": env,
                "threads": w.row("threads", house, agent_id=agent),
                "configs": w.row("configs", house, environment_id=env),
                "secrets": w.row("secrets", house, environment_id=env),
                "invites": w.row("invites", house, email="new@example.com"),
                "api_keys": w.row("api_keys", house, agent_id=agent),
            }
        conn.commit()

    def email(self, user):
        return {self.O: "o", self.A: "a", self.M: "m", self.L: "l", self.X: "x"}[user] + "@example.com"


@pytest.fixture(scope="module")
def world_db(arbedb_cluster, arbedb_template):
    """One committed world per module; every test acts on it in rolled-back transactions."""
    with arbedb_cluster.database(template=arbedb_template) as dsn:
        with psycopg.connect(dsn) as conn:
            world = World(conn)
        yield dsn, world


def me(conn, world, user):
    return as_user(conn, user, world.email(user))


def visible(cur, table, house):
    return cur.execute(f"SELECT count(*) FROM {table} WHERE house_id = %s", (house,)).fetchone()[0]


# ---------------------------------------------------------------- SELECT

@pytest.mark.parametrize("table", MEMBER_READABLE + ["houses"])
def test_member_sees_own_house_rows_and_nothing_of_another_house(conn, world, table):
    with me(conn, world, world.M) as cur:
        assert visible(cur, table, world.H) >= 1
        assert visible(cur, table, world.H2) == 0
    with me(conn, world, world.X) as cur:
        assert visible(cur, table, world.H) == 0
        assert visible(cur, table, world.H2) >= 1


@pytest.mark.parametrize("table", ["invites", "api_keys"])
def test_invites_and_api_keys_are_admin_only(conn, world, table):
    with me(conn, world, world.A) as cur:
        assert visible(cur, table, world.H) == 1
        assert visible(cur, table, world.H2) == 0
    with me(conn, world, world.M) as cur:
        assert visible(cur, table, world.H) == 0


def test_members_rows_of_my_house_and_my_own_rows_anywhere(conn, world):
    with me(conn, world, world.M) as cur:
        assert visible(cur, "members", world.H) == 4  # O, A, M and L's soft-deleted row
        assert visible(cur, "members", world.H2) == 0
    with me(conn, world, world.L) as cur:  # left H: only their own row remains visible
        rows = cur.execute("SELECT user_id FROM members").fetchall()
        assert rows == [(world.L,)]
        assert visible(cur, "houses", world.H) == 0


def test_a_creator_who_left_no_longer_sees_the_house(conn, world):
    with conn.transaction(force_rollback=True):
        conn.execute("UPDATE members SET role = 'owner' WHERE user_id = %s AND house_id = %s", (world.A, world.H))
        conn.execute("UPDATE members SET deleted_at = now() WHERE user_id = %s AND house_id = %s",
                     (world.O, world.H))
        with me(conn, world, world.O) as cur:  # O created H (created_by = O) but left it
            assert visible(cur, "houses", world.H) == 0
        with me(conn, world, world.A) as cur:
            assert visible(cur, "houses", world.H) == 1


def test_soft_deleted_house_hides_everything_in_it(conn, world):
    with conn.transaction(force_rollback=True):
        conn.execute("UPDATE houses SET deleted_at = now() WHERE id = %s", (world.H,))
        with me(conn, world, world.O) as cur:
            for table in ["houses", "agents", "threads", "invites"]:
                assert visible(cur, table, world.H) == 0, table
            assert cur.execute("SELECT arbe.is_house_member(%s)", (world.H,)).fetchone()[0] is False
            assert visible(cur, "members", world.H) == 1  # only the caller's own row


@pytest.mark.parametrize("table", HOUSE_TABLES)
def test_anon_can_neither_read_nor_write(conn, table):
    with pytest.raises(errors.InsufficientPrivilege):
        with as_anon(conn) as cur:
            cur.execute(f"SELECT count(*) FROM {table}")
    with pytest.raises(errors.InsufficientPrivilege):
        with as_anon(conn) as cur:
            cur.execute(f"UPDATE {table} SET deleted_at = now()")


@pytest.mark.parametrize("table", HOUSE_TABLES)
def test_anon_sees_nothing_even_if_a_grant_leaks(conn, world, table):
    """Defence in depth: Supabase's default privileges grant anon everything on new
    tables. Were a grant to slip back, the policies (all TO authenticated) still
    give anon no row, and authenticated (the twin) still sees its own."""
    with conn.transaction(force_rollback=True):
        conn.execute(f"GRANT SELECT, UPDATE ON {table} TO anon")
        with as_anon(conn) as cur:
            assert cur.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0
            cur.execute(f"UPDATE {table} SET deleted_at = deleted_at")
            assert cur.rowcount == 0
        with me(conn, world, world.O) as cur:
            assert cur.execute(f"SELECT count(*) FROM {table}").fetchone()[0] > 0


# ---------------------------------------------------------------- INSERT

def test_any_caller_creates_a_house_for_themselves_and_owns_it(conn, world):
    house = uuid.uuid4()
    with me(conn, world, world.M) as cur:
        # RETURNING makes PostgreSQL check the new row against the SELECT policy too.
        row = cur.execute("INSERT INTO houses (id, name) VALUES (%s, 'New') RETURNING house_id, created_by",
                          (house,)).fetchone()
        assert row == (house, world.M)
        assert cur.execute("SELECT arbe.house_role(%s)", (house,)).fetchone()[0] == "owner"
    with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
        with me(conn, world, world.M) as cur:
            cur.execute("INSERT INTO houses (name, created_by) VALUES ('Forged', %s)", (world.O,))


def test_members_are_never_inserted_directly(conn, world):
    with pytest.raises(errors.InsufficientPrivilege, match="permission denied"):
        with me(conn, world, world.O) as cur:
            cur.execute("INSERT INTO members (house_id, user_id, role) VALUES (%s, %s, 'member')",
                        (world.H, world.X))


INSERTS = {
    "agents": "INSERT INTO agents (house_id, name, kind) VALUES (%(h)s, 'n', 'k')",
    "environments": "INSERT INTO environments (house_id, name, kind) VALUES (%(h)s, 'n', 'remote')",
    "configs": "INSERT INTO configs (house_id, key, value) VALUES (%(h)s, 'new', '2')",
    "secrets": "INSERT INTO secrets (house_id, name) VALUES (%(h)s, 'new')",
}


@pytest.mark.parametrize("table", ADMIN_WRITABLE)
def test_admin_inserts_member_cannot(conn, world, table):
    with me(conn, world, world.A) as cur:
        cur.execute(INSERTS[table], {"h": world.H})
        assert cur.rowcount == 1
    for user, house in [(world.M, world.H), (world.A, world.H2)]:
        with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
            with me(conn, world, user) as cur:
                cur.execute(INSERTS[table], {"h": house})


def test_member_creates_threads_as_themselves_only(conn, world):
    with me(conn, world, world.M) as cur:
        row = cur.execute("INSERT INTO threads (house_id, kind, status) VALUES (%s, 'chat', 'open') "
                          "RETURNING created_by", (world.H,)).fetchone()
        assert row == (world.M,)
    for values in [(world.H, world.O), (world.H2, world.M)]:
        with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
            with me(conn, world, world.M) as cur:
                cur.execute("INSERT INTO threads (house_id, created_by, kind, status) "
                            "VALUES (%s, %s, 'chat', 'open')", values)


@pytest.mark.parametrize("table", ["invites", "api_keys"])
def test_invites_and_keys_are_not_inserted_directly(conn, world, table):
    with pytest.raises(errors.InsufficientPrivilege, match="permission denied"):
        with me(conn, world, world.O) as cur:
            cur.execute(f"INSERT INTO {table} (house_id) VALUES (%s)", (world.H,))


# ---------------------------------------------------------------- UPDATE

def update(cur, table, set_sql, row_id, *params):
    cur.execute(f"UPDATE {table} SET {set_sql} WHERE id = %s", (*params, row_id))
    return cur.rowcount


@pytest.mark.parametrize("table", ADMIN_WRITABLE)
def test_admin_updates_and_soft_deletes_member_touches_nothing(conn, world, table):
    row = world.rows[world.H][table]
    with me(conn, world, world.A) as cur:
        assert update(cur, table, "deleted_at = now()", row) == 1
    with me(conn, world, world.M) as cur:
        assert update(cur, table, "deleted_at = now()", row) == 0
    with me(conn, world, world.X) as cur:
        assert update(cur, table, "deleted_at = now()", row) == 0


def test_soft_delete_is_one_way_for_callers(conn, world):
    row = world.rows[world.H]["agents"]
    with conn.transaction(force_rollback=True):
        conn.execute("UPDATE agents SET deleted_at = now() WHERE id = %s", (row,))
        for change in ["deleted_at = NULL", "name = 'renamed'"]:
            with pytest.raises(errors.InsufficientPrivilege, match="deleted public.agents row cannot be changed"):
                with me(conn, world, world.O) as cur:
                    update(cur, "agents", change, row)


def test_any_member_updates_threads_outsiders_cannot(conn, world):
    row = world.rows[world.H]["threads"]
    with me(conn, world, world.M) as cur:
        assert update(cur, "threads", "status = 'done'", row) == 1
    with me(conn, world, world.X) as cur:
        assert update(cur, "threads", "status = 'done'", row) == 0


def test_house_rename_admin_plus_soft_delete_owner_only(conn, world):
    with me(conn, world, world.A) as cur:
        assert update(cur, "houses", "name = 'Renamed'", world.H) == 1
    with me(conn, world, world.M) as cur:
        assert update(cur, "houses", "name = 'Renamed'", world.H) == 0
    with pytest.raises(errors.InsufficientPrivilege, match="only an owner can delete a house"):
        with me(conn, world, world.A) as cur:
            update(cur, "houses", "deleted_at = now()", world.H)
    with me(conn, world, world.O) as cur:
        assert update(cur, "houses", "deleted_at = now()", world.H) == 1


@pytest.mark.parametrize("table", ["invites", "api_keys"])
def test_admin_revokes_invites_and_keys_member_cannot(conn, world, table):
    row = world.rows[world.H][table]
    column = "revoked_at" if table == "api_keys" else "deleted_at"
    with me(conn, world, world.A) as cur:
        assert update(cur, table, f"{column} = now()", row) == 1
    with me(conn, world, world.M) as cur:
        assert update(cur, table, f"{column} = now()", row) == 0
    with pytest.raises(errors.InsufficientPrivilege, match="permission denied"):
        with me(conn, world, world.A) as cur:  # only the revoke columns are granted
            update(cur, table, "house_id = house_id", row)


def test_api_key_revocation_cannot_be_undone(conn, world):
    row = world.rows[world.H]["api_keys"]
    with conn.transaction(force_rollback=True):
        conn.execute("UPDATE api_keys SET revoked_at = now() WHERE id = %s", (row,))
        with pytest.raises(errors.InsufficientPrivilege, match="revoked_at cannot be changed"):
            with me(conn, world, world.A) as cur:
                update(cur, "api_keys", "revoked_at = NULL", row)


# ---------------------------------------------------------------- members: roles and removals

def member_row(conn, world, user, house=None):
    return conn.execute("SELECT id FROM members WHERE user_id = %s AND house_id = %s AND deleted_at IS NULL",
                        (user, house or world.H)).fetchone()[0]


ROLE_CASES = [
    # (actor, target, new role, allowed?)
    ("A", "M", "admin", True),
    ("A", "A", "member", True),   # an admin may step down
    ("A", "M", "owner", False),   # only an owner grants owner
    ("A", "O", "admin", False),   # only an owner removes owner
    ("M", "M", "admin", False),   # members change no roles, not even their own
    ("O", "M", "owner", True),
    ("O", "A", "member", True),
]


@pytest.mark.parametrize("actor,target,role,allowed", ROLE_CASES)
def test_role_changes(conn, world, actor, target, role, allowed):
    row = member_row(conn, world, getattr(world, target))
    if allowed:
        with me(conn, world, getattr(world, actor)) as cur:
            assert update(cur, "members", "role = %s", row, role) == 1
    else:
        with pytest.raises(errors.InsufficientPrivilege, match="only an"):
            with me(conn, world, getattr(world, actor)) as cur:
                update(cur, "members", "role = %s", row, role)


REMOVAL_CASES = [
    ("M", "M", "allowed"),    # leaving
    ("A", "M", "allowed"),    # admin removes a non-owner
    ("A", "A", "allowed"),
    ("O", "A", "allowed"),
    ("A", "O", "raises"),     # admin cannot remove an owner
    ("M", "A", "zero rows"),  # a member cannot even reach another's row
    ("O", "O", "raises"),     # the last owner cannot leave
    ("X", "M", "zero rows"),
]


@pytest.mark.parametrize("actor,target,outcome", REMOVAL_CASES)
def test_removals(conn, world, actor, target, outcome):
    row = member_row(conn, world, getattr(world, target))
    if outcome == "raises":
        with pytest.raises(errors.InsufficientPrivilege):
            with me(conn, world, getattr(world, actor)) as cur:
                update(cur, "members", "deleted_at = now()", row)
        return
    with me(conn, world, getattr(world, actor)) as cur:
        assert update(cur, "members", "deleted_at = now()", row) == (1 if outcome == "allowed" else 0)


def test_owner_can_remove_another_owner_but_not_the_last(conn, world):
    with conn.transaction(force_rollback=True):
        conn.execute("UPDATE members SET role = 'owner' WHERE user_id = %s AND house_id = %s", (world.A, world.H))
        with me(conn, world, world.O) as cur:
            assert update(cur, "members", "deleted_at = now()", member_row(conn, world, world.A)) == 1
            with pytest.raises(errors.InsufficientPrivilege, match="last owner"):
                with conn.transaction():
                    update(cur, "members", "role = 'admin'", member_row(conn, world, world.O))


def test_last_owner_guard_holds_for_service_role_too(conn, world):
    with pytest.raises(errors.InsufficientPrivilege, match="last owner"):
        with acting_as(conn, "service_role", {"role": "service_role"}) as cur:
            update(cur, "members", "deleted_at = now()", member_row(conn, world, world.O))


# ---------------------------------------------------------------- DELETE, immutables

@pytest.mark.parametrize("table", HOUSE_TABLES)
def test_no_authenticated_delete_anywhere(conn, world, table):
    with pytest.raises(errors.InsufficientPrivilege, match="permission denied"):
        with me(conn, world, world.O) as cur:
            cur.execute(f"DELETE FROM {table} WHERE house_id = %s", (world.H,))


IMMUTABLE = [
    ("houses", "created_by", "M"), ("houses", "house_id", "H2"), ("houses", "created_at", None),
    ("members", "user_id", "X"), ("members", "house_id", "H2"),
    ("agents", "house_id", "H2"), ("agents", "created_by", "M"), ("threads", "id", "new"),
    ("configs", "house_id", "H2"),
]


@pytest.mark.parametrize("table,column,value", IMMUTABLE)
def test_immutable_columns(conn, world, table, column, value):
    row = world.H if table == "houses" else (
        world.m_member if table == "members" else world.rows[world.H][table])
    new = {"new": uuid.uuid4(), None: "2000-01-01"}.get(value) or getattr(world, value)
    with pytest.raises(errors.InsufficientPrivilege, match="cannot be changed"):
        with me(conn, world, world.O) as cur:
            update(cur, table, f"{column} = %s", row, new)
    with pytest.raises(errors.InsufficientPrivilege, match="cannot be changed"):
        with acting_as(conn, "service_role", {"role": "service_role"}) as cur:
            update(cur, table, f"{column} = %s", row, new)
