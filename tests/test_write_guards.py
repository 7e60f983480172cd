"""The write path's guards made cheap (issue 19) without changing what they decide.

The trigger functions ask "does RLS apply to this caller?" as
row_security_active(TG_RELID), a C function of current_user and the table, instead of
calling arbe.caller_bypasses_rls() once per trigger per row: the two must agree for
every kind of role that writes, on every house table. arbe.lock_house writes a house
row once per transaction (a second write would serialise nothing more), and that
write enters none of the houses triggers' PL/pgSQL.
"""

from __future__ import annotations

import uuid

import pytest

from conftest import PERMS
from arbedb.testing.impersonate import SERVICE, acting_as, clear_identity, set_identity, user_claims
from arbedb.testing.world import WorldBuilder

ASK = "SELECT row_security_active(%s::regclass), arbe.caller_bypasses_rls()"


def _agree(conn, who: str) -> None:
    for table in PERMS.names:
        under_rls, bypasses = conn.execute(ASK, (f"public.{table}",)).fetchone()
        assert under_rls is (not bypasses), f"{who} on public.{table}: row_security_active {under_rls}, " \
                                            f"caller_bypasses_rls {bypasses}"


def test_row_security_active_is_not_caller_bypasses_rls_for_every_writer(arbedb_conn):
    conn = arbedb_conn
    for who, role, claims in (("a user", "authenticated", user_claims(uuid.uuid4())),
                              ("nobody", "authenticated", None),
                              ("service_role", SERVICE, {"role": SERVICE})):
        with acting_as(conn, role, claims):
            _agree(conn, who)
    _agree(conn, "the superuser (a definer function's owner here)")
    # Supabase's owner, postgres, is no superuser but has BYPASSRLS; and a plain role has neither.
    for attributes, expected in (("BYPASSRLS", True), ("NOBYPASSRLS", False)):
        role = f"arbedb_guard_{uuid.uuid4().hex[:8]}"
        with conn.transaction(force_rollback=True):
            conn.execute(f"CREATE ROLE {role} NOLOGIN NOSUPERUSER {attributes}")
            conn.execute(f"GRANT USAGE ON SCHEMA arbe TO {role}")
            conn.execute(f"GRANT EXECUTE ON FUNCTION arbe.caller_bypasses_rls() TO {role}")
            conn.execute(f"SET LOCAL ROLE {role}")
            assert conn.execute("SELECT arbe.caller_bypasses_rls()").fetchone()[0] is expected
            _agree(conn, f"a {attributes} role")


@pytest.fixture
def house(arbedb_conn):
    w = WorldBuilder(arbedb_conn)
    h = w.house("h", created_by=w.user("o@example.com"))
    newcomers = [w.user(f"n{i}@example.com") for i in range(3)]
    arbedb_conn.commit()
    return h, newcomers


def _version(conn, house):
    return conn.execute("SELECT ctid, xmin::text = (pg_current_xact_id_if_assigned()::xid)::text "
                        "FROM public.houses WHERE id = %s", (house,)).fetchone()


def test_lock_house_writes_the_house_row_once_per_transaction(arbedb_conn, house):
    # No savepoints here: a write made in a subtransaction carries its xid and is made again.
    conn, (h, newcomers) = arbedb_conn, house
    with conn.transaction(force_rollback=True):
        cur = conn.cursor()
        before = _version(conn, h)
        set_identity(cur, SERVICE, {"role": SERVICE})
        cur.execute("INSERT INTO public.members (house_id, user_id, role) VALUES (%s, %s, 'member')", (h, newcomers[0]))
        clear_identity(cur)
        first = _version(conn, h)
        assert first[1] and first[0] != before[0], "a member becoming live writes the house row"
        set_identity(cur, SERVICE, {"role": SERVICE})
        cur.execute("INSERT INTO public.members (house_id, user_id, role) SELECT %s, u, 'member' FROM unnest(%s::uuid[]) AS u",
                    (h, newcomers[1:]))
        clear_identity(cur)
        assert _version(conn, h) == first, "the house row was written again in the same transaction"
    with conn.transaction(force_rollback=True):
        cur = conn.cursor()
        set_identity(cur, SERVICE, {"role": SERVICE})
        cur.execute("INSERT INTO public.members (house_id, user_id, role) VALUES (%s, %s, 'member')", (h, newcomers[0]))
        clear_identity(cur)
        assert _version(conn, h)[1], "a new transaction writes it again"


def test_the_serialising_write_enters_no_houses_trigger_function(arbedb_conn, house):
    conn, (h, newcomers) = arbedb_conn, house
    conn.execute("SET track_functions = 'all'")
    with conn.transaction(force_rollback=True):
        with acting_as(conn, SERVICE, {"role": SERVICE}, keep=True) as cur:
            cur.execute("INSERT INTO public.members (house_id, user_id, role) VALUES (%s, %s, 'member')", (h, newcomers[0]))
        called = conn.execute("""
            SELECT p.proname FROM pg_stat_xact_user_functions AS s JOIN pg_proc AS p ON p.oid = s.funcid
            JOIN pg_trigger AS t ON t.tgfoid = p.oid
            WHERE t.tgrelid = 'public.houses'::regclass AND (t.tgtype & 16) <> 0 AND s.calls > 0  -- UPDATE triggers""").fetchall()
        locked = conn.execute("SELECT s.calls FROM pg_stat_xact_user_functions AS s "
                              "WHERE s.funcid = 'arbe.lock_house(uuid)'::regprocedure").fetchone()
    assert locked == (1,), "the insert took the house's write"
    assert called == [], f"the house row's no-op write ran {called}"
