"""What one caller's read or bulk update costs must not depend on what other tenants
store: every policy, on every table, is an index scan (revision 0006; the houses
and members ORs in policies/30_houses.sql and policies/31_members.sql). The
large-cluster figures are in bench/rls_overhead.py; here the plans are read on a
few thousand houses, enough for the planner to prefer an index wherever one serves."""

from __future__ import annotations

import json
import uuid

import pytest
from conftest import plan_nodes

from conftest import PERMS
from arbedb.testing.impersonate import acting_as, user_claims

OTHERS = 4000  # other tenants' houses: half with an author, half made by server code (created_by NULL)
# A column each caller may UPDATE (column grants), set to itself.
UPDATABLE = {t: "updated_at" for t in PERMS.names} | {"houses": "name", "invites": "deleted_at", "api_keys": "deleted_at"}
STATEMENTS = {t: (f"SELECT * FROM public.{t}", f"UPDATE public.{t} SET {c} = {c}") for t, c in UPDATABLE.items()}
# One row per other tenant's house in each other table (bulk-loaded, triggers off).
ROW_VALUES = {
    "agents": "name, kind) SELECT id, 'a' || id, 'coder'",
    "environments": "name, kind) SELECT id, 'e' || id, 'local'",
    "threads": "kind, status) SELECT id, 'chat', 'open'",
    "configs": "key, value) SELECT id, 'k', '1'",
    "secrets": "name) SELECT id, 's'",
    "invites": "email, role, expires_at) SELECT id, 'x@example.com', 'member', now()",
    "api_keys": "name, prefix) SELECT id, 'k', md5(id::text)",
}


@pytest.fixture
def crowded(arbedb_conn):
    """Many other tenants' houses, one membership each; a caller in two of them,
    who has created one memberless house and left another they created."""
    conn = arbedb_conn
    caller, stranger = uuid.uuid4(), uuid.uuid4()
    conn.execute("SET session_replication_role = replica")  # bulk load: no triggers
    conn.execute("INSERT INTO auth.users (id) SELECT gen_random_uuid() FROM generate_series(1, 100)")
    conn.execute("INSERT INTO auth.users (id) VALUES (%s), (%s)", (caller, stranger))
    conn.execute("""
        INSERT INTO public.houses (id, house_id, name, created_by)
        SELECT h.id, h.id, 'h' || h.n, CASE WHEN h.n %% 2 = 0 THEN u.id END
        FROM (SELECT gen_random_uuid() AS id, g AS n FROM generate_series(1, %s) g) AS h
        LEFT JOIN LATERAL (SELECT id FROM auth.users WHERE id NOT IN (%s, %s) OFFSET h.n %% 100 LIMIT 1) AS u ON true
    """, (OTHERS, caller, stranger))
    conn.execute("""
        INSERT INTO public.members (house_id, user_id, role)
        SELECT h.id, coalesce(h.created_by, %s), 'owner' FROM public.houses h""", (stranger,))
    for table, values in ROW_VALUES.items():
        conn.execute(f"INSERT INTO public.{table} (house_id, {values} FROM public.houses")
    mine = [r[0] for r in conn.execute("SELECT id FROM public.houses ORDER BY id LIMIT 2").fetchall()]
    conn.execute("INSERT INTO public.members (house_id, user_id, role) SELECT unnest(%s::uuid[]), %s, 'member'",
                 (mine, caller))
    memberless, left = uuid.uuid4(), uuid.uuid4()
    conn.execute("INSERT INTO public.houses (id, house_id, name, created_by) VALUES (%s, %s, 'mine', %s), "
                 "(%s, %s, 'left', %s)", (memberless, memberless, caller, left, left, caller))
    conn.execute("INSERT INTO public.members (house_id, user_id, role, deleted_at) VALUES (%s, %s, 'owner', now())",
                 (left, caller))
    conn.execute("SET session_replication_role = origin")
    conn.commit()
    conn.autocommit = True
    conn.execute("ANALYZE")
    conn.autocommit = False
    return dict(caller=caller, mine=set(mine), memberless=memberless, left=left)


def plan_of(conn, claims, statement: str) -> list[dict]:
    with acting_as(conn, "authenticated", claims) as cur:
        return list(plan_nodes(cur.execute("EXPLAIN (FORMAT JSON) " + statement).fetchone()[0][0]["Plan"]))


CALLERS = {
    "a member of two houses": lambda w: user_claims(w["caller"]),
    "a member of none": lambda w: user_claims(uuid.uuid4()),
    "nobody (no sub)": lambda w: {"role": "authenticated"},
}


@pytest.mark.parametrize("table", STATEMENTS)
def test_every_policy_is_served_by_an_index_whatever_other_tenants_store(arbedb_conn, crowded, table):
    for caller, claims in CALLERS.items():
        for statement in STATEMENTS[table]:
            nodes = plan_of(arbedb_conn, claims(crowded), statement)
            seq = [n for n in nodes if n["Node Type"] == "Seq Scan" and n.get("Relation Name") == table]
            assert not seq, f"{statement} as {caller}: sequential scan over every tenant's {table}\n" + json.dumps(
                nodes[0], indent=1)[:2000]


def test_a_caller_reads_exactly_their_houses_and_memberships_from_a_crowded_cluster(arbedb_conn, crowded):
    """The rewritten policies still say what they said: member houses, plus a
    house the caller created that has no membership yet (never one they left)."""
    with acting_as(arbedb_conn, "authenticated", user_claims(crowded["caller"])) as cur:
        houses = {r[0] for r in cur.execute("SELECT id FROM public.houses").fetchall()}
        members = cur.execute("SELECT house_id, user_id = %s FROM public.members", (crowded["caller"],)).fetchall()
    assert houses == crowded["mine"] | {crowded["memberless"]}
    assert crowded["left"] not in houses
    # Own rows anywhere (the one left too), and every row of the two member houses.
    assert {h for h, own in members if own} == crowded["mine"] | {crowded["left"]}
    assert {h for h, own in members if not own} == crowded["mine"]
    with acting_as(arbedb_conn, "authenticated", user_claims(uuid.uuid4())) as cur:
        assert cur.execute("SELECT count(*) FROM public.houses").fetchone()[0] == 0
        assert cur.execute("SELECT count(*) FROM public.members").fetchone()[0] == 0
