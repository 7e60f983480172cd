"""Agent callers (API keys) under RLS, cell by cell: what a key of agent A in house H
and a house-wide key of H may read and write, each allowed case with its denied
twin; every dead or forged key claim is nobody; revocation holds from the next
statement; arbe.can_access_thread for users and keys. Each test runs on plain
PostgreSQL and on the Supabase fixture (migrating role `postgres`, no superuser)."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest
from conftest import plan_nodes
from psycopg import errors

from arbedb.testing.impersonate import AUTHENTICATED, acting_as, as_key, as_user, key_claims, user_claims
from arbedb.testing.world import WorldBuilder

pytest_plugins = ["supabase_fixture"]

NOTHING_TABLES = ["members", "secrets", "invites", "api_keys"]
PAST = "2026-01-01"


class World:
    """H: owner O, agents A and B, an environment E; threads of A, of B and of no agent;
    configs of A, of B, of E and house-wide. H2: owner X with its own agent and key.
    Keys of H: kA (agent A), kH (house-wide), and dead ones: revoked, expired,
    soft-deleted, of a deleted agent; kD of a deleted house."""

    def __init__(self, conn):
        w = WorldBuilder(conn)
        self.O, self.X = w.user("o@example.com"), w.user("x@example.com")
        self.H, self.H2 = w.house("Home", created_by=self.O), w.house("Elsewhere", created_by=self.X)
        self.A, self.B = w.row("agents", self.H), w.row("agents", self.H)
        self.gone_agent = w.row("agents", self.H, deleted_at=PAST)
        self.E = w.row("environments", self.H)
        self.t_a = w.row("threads", self.H, agent_id=self.A)
        self.t_a_dead = w.row("threads", self.H, agent_id=self.A, deleted_at=PAST)
        self.t_b = w.row("threads", self.H, agent_id=self.B)
        self.t_none = w.row("threads", self.H, created_by=self.O)
        self.c_a = w.row("configs", self.H, agent_id=self.A)
        self.c_b = w.row("configs", self.H, agent_id=self.B)
        self.c_e = w.row("configs", self.H, environment_id=self.E)
        self.c_house = w.row("configs", self.H)
        self.secret = w.row("secrets", self.H)
        w.row("invites", self.H, email="new@example.com")
        self.kA = w.row("api_keys", self.H, agent_id=self.A)
        self.kH = w.row("api_keys", self.H)
        self.dead = {
            "revoked": w.row("api_keys", self.H, agent_id=self.A, revoked_at=PAST),
            "expired": w.row("api_keys", self.H, agent_id=self.A, expires_at=PAST),
            "deleted": w.row("api_keys", self.H, agent_id=self.A, deleted_at=PAST),
            "of a deleted agent": w.row("api_keys", self.H, agent_id=self.gone_agent),
        }
        self.A2 = w.row("agents", self.H2)
        self.t_a2 = w.row("threads", self.H2, agent_id=self.A2)
        self.c_house2 = w.row("configs", self.H2)
        self.k2 = w.row("api_keys", self.H2, agent_id=self.A2)
        H3 = w.house("Gone", created_by=self.X)
        self.dead["of a deleted house"] = w.row("api_keys", H3, agent_id=w.row("agents", H3))
        conn.execute("UPDATE houses SET deleted_at = now() WHERE id = %s", (H3,))
        conn.commit()


@pytest.fixture(scope="module", params=["plain", "supabase"])
def world_db(request):
    if request.param == "plain":
        cluster, template = request.getfixturevalue("arbedb_cluster"), request.getfixturevalue("arbedb_template")
    else:
        cluster = request.getfixturevalue("supabase_cluster")
        template = request.getfixturevalue("supabase_applied_template")
    with cluster.database(template=template) as dsn:
        with psycopg.connect(dsn) as conn:
            world = World(conn)
        yield dsn, world


def ids(cur, table):
    return {r[0] for r in cur.execute(f"SELECT id FROM {table}")}


def house_ids(cur, table):
    return {r[0] for r in cur.execute(f"SELECT house_id FROM {table}")}


# ---------------------------------------------------------------- identity

def test_a_live_key_is_its_agent_and_house_and_no_user(conn, world):
    with as_key(conn, world.kA) as cur:
        assert cur.execute("SELECT arbe.caller_agent_id(), arbe.caller_key_house_id(), arbe.caller_id()"
                           ).fetchone() == (world.A, world.H, None)
    with as_key(conn, world.kH) as cur:
        assert cur.execute("SELECT arbe.caller_agent_id(), arbe.caller_key_house_id()").fetchone() == (None, world.H)
    with as_user(conn, world.O, "o@example.com") as cur:
        assert cur.execute("SELECT arbe.caller_agent_id(), arbe.caller_key_house_id(), arbe.caller_id()"
                           ).fetchone() == (None, None, world.O)


def _nobody_claims(world):
    key = str(world.kA)
    return {
        **{f"a key {state}": key_claims(k) for state, k in world.dead.items()},
        "an unknown key": key_claims(uuid.uuid4()),
        "a malformed key id": {"role": AUTHENTICATED, "arbe_api_key_id": key[:-1] + "z"},
        "a key id that is a number": {"role": AUTHENTICATED, "arbe_api_key_id": 7},
        "a key id under another role": {"role": "service_role", "arbe_api_key_id": key},
        "both sub and key": {"role": AUTHENTICATED, "sub": str(world.O), "arbe_api_key_id": key},
        "a null sub beside a key": {"role": AUTHENTICATED, "sub": None, "arbe_api_key_id": key},
        "a garbage sub beside a key": {"role": AUTHENTICATED, "sub": "x", "arbe_api_key_id": key},
    }


@pytest.mark.parametrize("case", ["a key revoked", "a key expired", "a key deleted", "a key of a deleted agent",
                                  "a key of a deleted house", "an unknown key", "a malformed key id",
                                  "a key id that is a number", "a key id under another role", "both sub and key",
                                  "a null sub beside a key", "a garbage sub beside a key"])
def test_dead_or_forged_key_claims_are_nobody(conn, world, case):
    claims = _nobody_claims(world)[case]
    with acting_as(conn, AUTHENTICATED, claims) as cur:
        assert cur.execute("SELECT arbe.caller_agent_id(), arbe.caller_key_house_id(), arbe.caller_id()"
                           ).fetchone() == (None, None, None)
        for table in ("houses", "agents", "environments", "threads", "configs", *NOTHING_TABLES):
            assert ids(cur, table) == set(), table  # no rows, and no error saying why
        assert cur.execute("SELECT arbe.can_access_thread(%s)", (world.t_a,)).fetchone() == (False,)
        assert cur.execute("UPDATE threads SET status = 'x' WHERE id = %s", (world.t_a,)).rowcount == 0
        with pytest.raises(errors.InsufficientPrivilege):
            cur.execute("INSERT INTO threads (agent_id, kind, status) VALUES (%s, 'chat', 'open')", (world.A,))


def test_the_same_claims_see_nothing_from_the_statement_after_a_revocation(conn, world_db, world):
    """The claim names a key, not an agent: a revocation committed by another
    session is honoured by the next statement of a transaction already acting as the key."""
    with psycopg.connect(world_db[0]) as admin:
        key = WorldBuilder(admin).row("api_keys", world.H, agent_id=world.A)
        admin.commit()
        try:
            with as_key(conn, key) as cur:
                assert ids(cur, "threads") == {world.t_a, world.t_a_dead}
                admin.execute("UPDATE api_keys SET revoked_at = now() WHERE id = %s", (key,))
                admin.commit()
                assert ids(cur, "threads") == set()
                assert ids(cur, "houses") == set()
                assert cur.execute("SELECT arbe.caller_agent_id()").fetchone() == (None,)
        finally:
            admin.execute("SET LOCAL ROLE service_role")
            admin.execute("DELETE FROM api_keys WHERE id = %s", (key,))
            admin.commit()


def test_deleting_the_agent_or_house_ends_its_keys_on_the_next_statement(conn, world):
    with conn.transaction(force_rollback=True):
        with as_key(conn, world.kA) as cur:
            assert ids(cur, "agents") == {world.A, world.B, world.gone_agent}
        conn.execute("UPDATE agents SET deleted_at = now() WHERE id = %s", (world.A,))
        with as_key(conn, world.kA) as cur:
            assert ids(cur, "agents") == set()
        with as_key(conn, world.kH) as cur:  # the house-wide key names no agent: it lives on
            assert world.H in ids(cur, "houses")
        conn.execute("UPDATE houses SET deleted_at = now() WHERE id = %s", (world.H,))
        with as_key(conn, world.kH) as cur:
            assert ids(cur, "houses") == set()


def test_restoring_the_agent_or_house_brings_its_keys_back(conn, world):
    gone_agent_key, gone_house_key = world.dead["of a deleted agent"], world.dead["of a deleted house"]
    with conn.transaction(force_rollback=True):
        for key in (gone_agent_key, gone_house_key):
            with as_key(conn, key) as cur:
                assert ids(cur, "houses") == set()
        conn.execute("UPDATE agents SET deleted_at = NULL WHERE id = %s", (world.gone_agent,))
        conn.execute("UPDATE houses SET deleted_at = NULL WHERE id = (SELECT house_id FROM api_keys WHERE id = %s)",
                     (gone_house_key,))
        with as_key(conn, gone_agent_key) as cur:
            assert ids(cur, "houses") == {world.H}
        with as_key(conn, gone_house_key) as cur:
            assert len(ids(cur, "houses")) == 1


def test_a_key_takes_liveness_from_its_house_and_agent_never_from_its_writer(conn, world):
    """The copies on api_keys are the triggers' (triggers/26_key_liveness.sql):
    server code writing them by hand changes nothing, and a key moved to a
    deleted agent is dead, moved to a live one alive."""
    with conn.transaction(force_rollback=True):
        conn.execute("SET LOCAL ROLE service_role")
        conn.execute("UPDATE api_keys SET house_deleted_at = NULL, agent_deleted_at = NULL WHERE id = ANY(%s)",
                     ([world.dead["of a deleted agent"], world.dead["of a deleted house"]],))
        conn.execute("UPDATE api_keys SET agent_deleted_at = now() WHERE id = %s", (world.kA,))
        conn.execute("RESET ROLE")
        for key, alive in ((world.dead["of a deleted agent"], False), (world.dead["of a deleted house"], False),
                           (world.kA, True)):
            with as_key(conn, key) as cur:
                assert bool(ids(cur, "houses")) is alive, key
        conn.execute("SET LOCAL ROLE service_role")
        conn.execute("UPDATE api_keys SET agent_id = %s WHERE id = %s", (world.gone_agent, world.kA))
        conn.execute("UPDATE api_keys SET agent_id = %s WHERE id = %s", (world.B, world.dead["of a deleted agent"]))
        conn.execute("RESET ROLE")
        with as_key(conn, world.kA) as cur:
            assert ids(cur, "houses") == set()
        with as_key(conn, world.dead["of a deleted agent"]) as cur:
            assert cur.execute("SELECT arbe.caller_agent_id()").fetchone() == (world.B,)


def test_an_agent_with_keys_cannot_be_hard_deleted(conn, world):
    """A cascade (or SET NULL, which would widen an agent key to house-wide) on the
    keys' (house_id, agent_id) foreign key would skip the liveness copy; there is none."""
    with conn.transaction(force_rollback=True):
        conn.execute("SET LOCAL ROLE service_role")
        conn.execute("DELETE FROM threads WHERE agent_id = %s", (world.A,))
        conn.execute("DELETE FROM configs WHERE agent_id = %s", (world.A,))
        with pytest.raises(errors.ForeignKeyViolation) as refused:
            with conn.transaction():
                conn.execute("DELETE FROM agents WHERE id = %s", (world.A,))
        assert refused.value.diag.constraint_name == "api_keys_agent_same_house"
        conn.execute("RESET ROLE")
        with as_key(conn, world.kA) as cur:
            assert cur.execute("SELECT arbe.caller_agent_id()").fetchone() == (world.A,)


def _key_lookups(conn, claims) -> int:
    """Calls of arbe.caller_key (the definer key lookup) made by one RLS-gated read
    of every key-aware table, by the given caller (function stats of this transaction)."""
    with conn.transaction(force_rollback=True):
        conn.execute("SET LOCAL track_functions = 'pl'")
        with acting_as(conn, AUTHENTICATED, claims) as cur:
            for table in ("houses", "agents", "environments", "threads", "configs"):
                cur.execute(f"SELECT id FROM {table}").fetchall()
        return conn.execute("SELECT coalesce(sum(calls), 0) FROM pg_stat_xact_user_functions "
                            "WHERE schemaname = 'arbe' AND funcname = 'caller_key'").fetchone()[0]


def test_a_users_statement_never_runs_the_key_lookup(conn, world):
    if not conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0]:
        pytest.skip("track_functions is a superuser setting (Supabase's postgres is not one)")
    assert _key_lookups(conn, user_claims(world.O)) == 0
    assert _key_lookups(conn, key_claims(world.kA)) >= 5  # one per statement at least


def test_the_key_check_is_one_primary_key_lookup(conn, world):
    """What every statement of a key runs (arbe.live_api_key, inlined into
    arbe.caller_key): one probe of api_keys' primary key, no other relation."""
    plan = conn.execute("EXPLAIN (FORMAT JSON) SELECT * FROM arbe.live_api_key(%s)", (world.kA,)).fetchone()[0]
    scans = [(n["Node Type"], n.get("Relation Name"), n.get("Index Name"))
             for n in plan_nodes(plan[0]["Plan"]) if "Relation Name" in n]
    assert scans == [("Index Scan", "api_keys", "api_keys_pkey")]
    assert conn.execute("SELECT * FROM arbe.live_api_key(%s)", (world.kA,)).fetchall() == [(world.H, world.A)]
    assert conn.execute("SELECT * FROM arbe.live_api_key(%s)", (world.dead["of a deleted agent"],)).fetchall() == []


# ---------------------------------------------------------------- SELECT

def test_agent_key_reads_its_house_and_its_agents_rows(conn, world):
    with as_key(conn, world.kA) as cur:
        assert ids(cur, "houses") == {world.H}
        assert house_ids(cur, "agents") == {world.H} and world.A in ids(cur, "agents")
        assert house_ids(cur, "environments") == {world.H}
        assert ids(cur, "threads") == {world.t_a, world.t_a_dead}  # deleted ones too, like a member
        assert ids(cur, "configs") == {world.c_a, world.c_house}


def test_house_wide_key_reads_house_agents_environments_and_house_wide_configs_only(conn, world):
    with as_key(conn, world.kH) as cur:
        assert ids(cur, "houses") == {world.H}
        assert world.A in ids(cur, "agents") and house_ids(cur, "environments") == {world.H}
        assert ids(cur, "threads") == set()
        assert ids(cur, "configs") == {world.c_house}


@pytest.mark.parametrize("table", NOTHING_TABLES)
def test_keys_read_no_members_secrets_invites_or_api_keys(conn, world, table):
    with as_user(conn, world.O, "o@example.com") as cur:  # the denied twin's allowed case: the owner sees them
        assert world.H in house_ids(cur, table)
    for key in (world.kA, world.kH):
        with as_key(conn, key) as cur:
            assert ids(cur, table) == set()


def test_a_key_reads_nothing_of_another_house(conn, world):
    with as_key(conn, world.k2) as cur:
        assert ids(cur, "threads") == {world.t_a2} and ids(cur, "configs") == {world.c_house2}
    with as_key(conn, world.kA) as cur:
        for table in ("houses", "agents", "threads", "configs"):
            assert world.H2 not in house_ids(cur, table)


def test_the_private_schema_is_closed_to_keys(conn, world):
    with as_key(conn, world.kA) as cur, pytest.raises(errors.InsufficientPrivilege):
        cur.execute("SELECT * FROM arbe_private.api_key_hashes")


# ---------------------------------------------------------------- INSERT

def _insert_thread(cur, **values):
    values = {"kind": "chat", "status": "open", **values}
    cols = ", ".join(values)
    return cur.execute(f"INSERT INTO threads ({cols}) VALUES ({', '.join(['%s'] * len(values))}) RETURNING house_id",
                       list(values.values())).fetchone()[0]


def test_agent_key_creates_threads_of_its_agent_in_its_house(conn, world):
    with as_key(conn, world.kA) as cur:
        assert _insert_thread(cur, agent_id=world.A) == world.H  # house_id by trigger
        assert _insert_thread(cur, agent_id=world.A, house_id=world.H, environment_id=world.E) == world.H


@pytest.mark.parametrize("case", ["another agent", "no agent", "a user as author", "another house's agent",
                                  "house-wide key"])
def test_a_key_creates_no_other_thread(conn, world, case):
    key, values = world.kA, {"agent_id": world.A}
    if case == "another agent":
        values = {"agent_id": world.B}
    elif case == "no agent":
        values = {"house_id": world.H}
    elif case == "a user as author":
        values["created_by"] = world.O
    elif case == "another house's agent":
        values = {"agent_id": world.A2}
    else:
        key = world.kH
    with as_key(conn, key) as cur, pytest.raises((errors.InsufficientPrivilege, errors.NotNullViolation)):
        _insert_thread(cur, **values)


@pytest.mark.parametrize("table,values", [
    ("houses", {"name": "mine"}),
    ("agents", {"name": "a", "kind": "coder"}),
    ("environments", {"name": "e", "kind": "local"}),
    ("configs", {"key": "key-test", "value": "1"}),
    ("secrets", {"name": "s"}),
])
def test_keys_insert_nothing_but_threads(conn, world, table, values):
    with as_user(conn, world.O, "o@example.com") as cur:  # the owner may
        cur.execute(f"INSERT INTO {table} ({', '.join(values)}{'' if table == 'houses' else ', house_id'}) "
                    f"VALUES ({', '.join(['%s'] * len(values))}{'' if table == 'houses' else ', %s'})",
                    [*values.values(), *([] if table == "houses" else [world.H])])
    for key in (world.kA, world.kH):
        with as_key(conn, key) as cur, pytest.raises(errors.InsufficientPrivilege):
            cur.execute(f"INSERT INTO {table} ({', '.join(values)}, house_id) "
                        f"VALUES ({', '.join(['%s'] * len(values))}, %s)", [*values.values(), world.H])


# ---------------------------------------------------------------- UPDATE

@pytest.mark.parametrize("column,value", [("status", "done"), ("title", "t"), ("usage", json.dumps({"n": 1}))])
def test_agent_key_updates_status_title_usage_of_its_agents_threads(conn, world, column, value):
    with as_key(conn, world.kA) as cur:
        assert cur.execute(f"UPDATE threads SET {column} = %s WHERE id = %s", (value, world.t_a)).rowcount == 1
        assert cur.execute(f"UPDATE threads SET {column} = %s WHERE id = ANY(%s)",
                           (value, [world.t_b, world.t_none, world.t_a2])).rowcount == 0
    with as_key(conn, world.kH) as cur:
        assert cur.execute(f"UPDATE threads SET {column} = %s", (value,)).rowcount == 0


@pytest.mark.parametrize("column,value", [
    ("kind", "other"), ("config", '{"a": 1}'), ("environment_id", "E"), ("deleted_at", PAST),
    ("agent_id", "B"), ("created_by", "O"), ("created_at", PAST), ("house_id", "H2"),
])
def test_agent_key_changes_no_other_thread_column(conn, world, column, value):
    value = {"E": world.E, "B": world.B, "O": world.O, "H2": world.H2}.get(value, value)
    with as_user(conn, world.O, "o@example.com") as cur:  # a member may change the mutable ones
        if column in ("kind", "config", "environment_id", "deleted_at", "agent_id"):
            assert cur.execute(f"UPDATE threads SET {column} = %s WHERE id = %s", (value, world.t_a)).rowcount == 1
    with as_key(conn, world.kA) as cur, pytest.raises(errors.InsufficientPrivilege):
        cur.execute(f"UPDATE threads SET {column} = %s WHERE id = %s", (value, world.t_a))


@pytest.mark.parametrize("table,column", [
    ("houses", "name"), ("agents", "name"), ("environments", "name"), ("configs", "value"),
    ("secrets", "name"), ("members", "role"), ("invites", "deleted_at"), ("api_keys", "revoked_at"),
])
def test_keys_update_nothing_but_threads(conn, world, table, column):
    value = {"value": '"2"', "role": "owner", "deleted_at": PAST, "revoked_at": PAST}.get(column, "renamed")
    with as_user(conn, world.O, "o@example.com") as cur:  # the owner may
        assert cur.execute(f"UPDATE {table} SET {column} = %s WHERE house_id = %s AND deleted_at IS NULL "
                           f"AND {'id <> %s' if table == 'api_keys' else 'true'}",
                           (value, world.H, *([world.kA] if table == "api_keys" else []))).rowcount >= 1
    for key in (world.kA, world.kH):
        with as_key(conn, key) as cur:
            assert cur.execute(f"UPDATE {table} SET {column} = %s", (value,)).rowcount == 0


def test_a_key_never_deletes(conn, world):
    with as_key(conn, world.kA) as cur, pytest.raises(errors.InsufficientPrivilege):
        cur.execute("DELETE FROM threads WHERE id = %s", (world.t_a,))


# ---------------------------------------------------------------- credential functions

@pytest.mark.parametrize("call", [
    "arbe.create_invite(%(H)s, 'k@example.com', 'member')",
    "arbe.create_api_key(%(H)s, %(A)s, 'k')",
    "arbe.set_secret(%(secret)s, 'v')",
    "arbe.accept_invite('arbe_not_a_token')",
    "arbe.resolve_api_key('arbe_x')",
    "arbe.read_secret(%(secret)s)",
])
def test_a_key_calls_no_credential_function(conn, world, call):
    params = {"H": world.H, "A": world.A, "secret": world.secret}
    with as_key(conn, world.kA) as cur, pytest.raises(psycopg.Error):
        cur.execute(f"SELECT * FROM {call}", params)


def test_a_key_looks_up_no_invite(conn, world):
    with as_key(conn, world.kA) as cur:
        assert cur.execute("SELECT * FROM arbe.lookup_invite('arbe_not_a_token')").fetchall() == []


# ---------------------------------------------------------------- arbe.can_access_thread

def _access(cur, *threads):
    return [cur.execute("SELECT arbe.can_access_thread(%s)", (t,)).fetchone()[0] for t in threads]


def test_can_access_thread_for_a_member(conn, world):
    with as_user(conn, world.O, "o@example.com") as cur:
        assert _access(cur, world.t_a, world.t_b, world.t_none) == [True] * 3
        assert _access(cur, world.t_a_dead, world.t_a2, uuid.uuid4(), None) == [False] * 4
    with as_user(conn, world.X, "x@example.com") as cur:
        assert _access(cur, world.t_a2, world.t_a) == [True, False]


def test_can_access_thread_for_keys(conn, world):
    with as_key(conn, world.kA) as cur:
        assert _access(cur, world.t_a) == [True]
        assert _access(cur, world.t_b, world.t_none, world.t_a_dead, world.t_a2, uuid.uuid4()) == [False] * 5
    with as_key(conn, world.kH) as cur:
        assert _access(cur, world.t_a, world.t_none) == [False, False]


def test_can_access_thread_is_closed_to_anon(conn, world):
    with acting_as(conn, "anon", {"role": "anon"}) as cur, pytest.raises(errors.InsufficientPrivilege):
        _access(cur, world.t_a)


def test_key_functions_are_executable_by_authenticated_only(conn, world):
    rows = conn.execute(
        "SELECT p.proname, r.rolname, has_function_privilege(r.oid, p.oid, 'EXECUTE') FROM pg_proc p "
        "JOIN pg_namespace n ON n.oid = p.pronamespace AND n.nspname = 'arbe' "
        "CROSS JOIN pg_roles r WHERE r.rolname IN ('anon', 'authenticated') "
        "AND p.proname IN ('caller_agent_id', 'caller_key_house_id', 'can_access_thread', 'live_api_key')").fetchall()
    grants = {(name, role): ok for name, role, ok in rows}
    assert grants == {(n, r): r == "authenticated" and n != "live_api_key"
                      for n in ("caller_agent_id", "caller_key_house_id", "can_access_thread", "live_api_key")
                      for r in ("anon", "authenticated")}

