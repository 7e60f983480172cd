"""Invites, API keys, secrets and txid (SPEC §5, §6), and the two races that the
database must serialise: concurrent last-owner demotions and double accepts."""

from __future__ import annotations

import json
import threading
import time

import psycopg
import pytest
from psycopg import errors

from arbedb.rls.checks import PRIVATE_TABLES
from arbedb.testing.impersonate import as_service, as_user, set_identity, user_claims
from arbedb.testing.world import WorldBuilder

SAME_ERROR = "invite is invalid, expired, used or revoked"


@pytest.fixture
def house(arbedb_conn):
    w = WorldBuilder(arbedb_conn)
    owner, admin, member, invitee = (w.user(e) for e in
                                     ("o@example.com", "a@example.com", "m@example.com", "New@Example.com"))
    h = w.house("Acme", created_by=owner)
    w.member(h, admin, "admin")
    w.member(h, member, "member")
    other = w.house("Other", created_by=w.user("x@example.com"))
    agent = w.row("agents", h)
    env = w.row("environments", h)
    secret = w.row("secrets", h, environment_id=env)
    arbedb_conn.commit()
    return dict(w=w, owner=owner, admin=admin, member=member, invitee=invitee, h=h, other=other,
                agent=agent, secret=secret)


def call(conn, user, sql, *params, email=None):
    """Run one statement as ``user`` and commit it (the credential flows span transactions)."""
    with conn.cursor() as cur:
        set_identity(cur, "authenticated", user_claims(user, email))
        row = cur.execute(sql, params).fetchone()
    conn.commit()
    return row


def _all_text(conn) -> str:
    """Every value of every table we own, as text: a token must appear nowhere."""
    parts = []
    for (table,) in conn.execute(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
            "WHERE schemaname IN ('public', 'arbe_private')").fetchall():
        parts += [str(r) for r in conn.execute(f"SELECT t::text FROM {table} AS t").fetchall()]
    return "\n".join(parts)


# ---------------------------------------------------------------- invites

def test_create_invite_admin_only_token_shown_once_hash_stored(arbedb_conn, house):
    token = call(arbedb_conn, house["admin"], "SELECT arbe.create_invite(%s, 'new@example.com', 'member')",
                 house["h"])[0]
    assert len(bytes.fromhex(token)) * 8 >= 128
    assert token not in _all_text(arbedb_conn)
    stored = arbedb_conn.execute(
        "SELECT t.token_hash = sha256(convert_to(%s, 'UTF8')), i.expires_at - i.created_at "
        "FROM arbe_private.invite_tokens t JOIN invites i ON i.id = t.invite_id", (token,)).fetchone()
    assert stored[0] is True and stored[1].days == 7
    for user, role, error in [(house["member"], "member", "only an admin or owner"),
                              (house["admin"], "owner", "member or admin")]:
        with pytest.raises(psycopg.Error, match=error):
            call(arbedb_conn, user, "SELECT arbe.create_invite(%s, 'z@example.com', %s)", house["h"], role)
        arbedb_conn.rollback()
    with pytest.raises(errors.InsufficientPrivilege):
        call(arbedb_conn, house["admin"], "SELECT arbe.create_invite(%s, 'z@example.com', 'member')", house["other"])


def test_lookup_and_accept_invite_once_email_must_match(arbedb_conn, house):
    token = call(arbedb_conn, house["admin"], "SELECT arbe.create_invite(%s, 'new@example.com', 'admin')",
                 house["h"])[0]
    # Someone else, holding the token, sees nothing and cannot accept it.
    assert call(arbedb_conn, house["member"], "SELECT * FROM arbe.lookup_invite(%s)", token,
                email="m@example.com") is None
    with pytest.raises(psycopg.Error, match=SAME_ERROR):
        call(arbedb_conn, house["member"], "SELECT arbe.accept_invite(%s)", token, email="m@example.com")
    arbedb_conn.rollback()
    # The invitee, whose JWT email differs only in case, sees and accepts it.
    looked = call(arbedb_conn, house["invitee"], "SELECT * FROM arbe.lookup_invite(%s)", token,
                  email="NEW@example.COM")
    assert looked[:3] == (house["h"], "Acme", "admin")
    member_id = call(arbedb_conn, house["invitee"], "SELECT arbe.accept_invite(%s)", token,
                     email="NEW@example.COM")[0]
    assert arbedb_conn.execute("SELECT user_id, role FROM members WHERE id = %s", (member_id,)).fetchone() == (
        house["invitee"], "admin")
    # Used: the same error as every other refusal.
    with pytest.raises(psycopg.Error, match=SAME_ERROR):
        call(arbedb_conn, house["invitee"], "SELECT arbe.accept_invite(%s)", token, email="new@example.com")


@pytest.mark.parametrize("spoil", ["wrong token", "expired", "revoked", "house deleted"])
def test_every_unusable_invite_fails_the_same_way(arbedb_conn, house, spoil):
    token = call(arbedb_conn, house["admin"], "SELECT arbe.create_invite(%s, 'new@example.com', 'member')",
                 house["h"])[0]
    spoilers = {
        "wrong token": None,
        "expired": "UPDATE invites SET expires_at = now() - interval '1 second'",
        "revoked": "UPDATE invites SET deleted_at = now()",
        "house deleted": "UPDATE houses SET deleted_at = now() WHERE name = 'Acme'",
    }
    if spoilers[spoil]:
        arbedb_conn.execute(spoilers[spoil])
        arbedb_conn.commit()
    else:
        token = token[::-1]
    assert call(arbedb_conn, house["invitee"], "SELECT * FROM arbe.lookup_invite(%s)", token,
                email="new@example.com") is None
    with pytest.raises(psycopg.Error) as err:
        call(arbedb_conn, house["invitee"], "SELECT arbe.accept_invite(%s)", token, email="new@example.com")
    assert err.value.diag.message_primary == SAME_ERROR and err.value.sqlstate == "22023"


def _race(dsn, first, second):
    """Two callers, truly overlapping: ``first`` runs and keeps its transaction
    open; ``second`` starts in another connection and must block on a lock; only
    then does ``first`` commit. Returns each one's outcome ("ok" or its error)."""
    results = {}

    def run(name, conn, claims, sql, params, commit=True):
        try:
            set_identity(conn.cursor(), "authenticated", claims)
            conn.execute(sql, params)
            if commit:
                conn.commit()
            results[name] = "ok"
        except psycopg.Error as exc:
            results[name] = exc.diag.message_primary
            conn.rollback()

    with psycopg.connect(dsn) as c1, psycopg.connect(dsn) as c2, psycopg.connect(dsn, autocommit=True) as watch:
        run("first", c1, *first, commit=False)
        assert results["first"] == "ok", results
        pid2 = c2.info.backend_pid
        thread = threading.Thread(target=run, args=("second", c2, *second))
        thread.start()
        deadline = time.time() + 10
        while time.time() < deadline and watch.execute(
                "SELECT wait_event_type IS DISTINCT FROM 'Lock' FROM pg_stat_activity WHERE pid = %s",
                (pid2,)).fetchone()[0]:
            time.sleep(0.02)
        blocked = "second" not in results
        c1.commit()
        thread.join(20)
    assert blocked, f"the second caller was not blocked by the first: {results}"
    return results["first"], results["second"]


def _claims(user, email=None):
    return json.dumps(user_claims(user, email))


def test_two_concurrent_accepts_of_one_token_make_one_membership(arbedb_conn, arbedb_dsn, house):
    token = call(arbedb_conn, house["admin"], "SELECT arbe.create_invite(%s, 'new@example.com', 'member')",
                 house["h"])[0]
    accept = (_claims(house["invitee"], "new@example.com"), "SELECT arbe.accept_invite(%s)", (token,))
    assert _race(arbedb_dsn, accept, accept) == ("ok", SAME_ERROR)
    n = arbedb_conn.execute("SELECT count(*) FROM members WHERE user_id = %s", (house["invitee"],)).fetchone()[0]
    assert n == 1


def test_two_owners_demoting_each_other_at_once_leave_one_owner(arbedb_conn, arbedb_dsn, house):
    arbedb_conn.execute("UPDATE members SET role = 'owner' WHERE user_id = %s", (house["admin"],))
    arbedb_conn.commit()
    o, a = house["owner"], house["admin"]
    sql = "UPDATE members SET role = 'admin' WHERE user_id = %s AND house_id = %s"
    first, second = _race(arbedb_dsn, (_claims(o), sql, (a, house["h"])), (_claims(a), sql, (o, house["h"])))
    # The second waits on the house lock, then counts the owners the first left.
    assert (first, second) == ("ok", "the last owner of a house can be neither demoted nor removed")
    owners = arbedb_conn.execute("SELECT count(*) FROM members WHERE house_id = %s AND role = 'owner' "
                                 "AND deleted_at IS NULL", (house["h"],)).fetchone()[0]
    assert owners == 1


# ---------------------------------------------------------------- API keys

def test_api_key_created_by_admin_resolved_by_service_only(arbedb_conn, house):
    key = call(arbedb_conn, house["admin"], "SELECT arbe.create_api_key(%s, %s, 'ci')", house["h"],
               house["agent"])[0]
    prefix = arbedb_conn.execute("SELECT prefix FROM api_keys").fetchone()[0]
    assert key.startswith("arbe_" + prefix) and len(key) > len("arbe_" + prefix) + 32
    assert key not in _all_text(arbedb_conn)
    with as_service(arbedb_conn) as cur:
        resolved = cur.execute("SELECT * FROM arbe.resolve_api_key(%s)", (key,)).fetchall()
        assert [r[1:] for r in resolved] == [(house["h"], house["agent"])]
        assert cur.execute("SELECT last_used_at IS NOT NULL FROM api_keys").fetchone()[0]
        assert cur.execute("SELECT * FROM arbe.resolve_api_key(%s)", (key[:-1] + "0",)).fetchall() in ([], resolved)
        assert cur.execute("SELECT * FROM arbe.resolve_api_key(%s)", ("arbe_nope",)).fetchall() == []
    with pytest.raises(errors.InsufficientPrivilege):
        call(arbedb_conn, house["admin"], "SELECT * FROM arbe.resolve_api_key(%s)", key)
    arbedb_conn.rollback()
    with pytest.raises(errors.InsufficientPrivilege):
        call(arbedb_conn, house["member"], "SELECT arbe.create_api_key(%s, NULL, 'x')", house["h"])


@pytest.mark.parametrize("spoil", ["revoked_at = now()", "expires_at = now() - interval '1 second'",
                                   "deleted_at = now()"])
def test_revoked_expired_or_deleted_keys_resolve_to_nothing(arbedb_conn, house, spoil):
    key = call(arbedb_conn, house["admin"], "SELECT arbe.create_api_key(%s, NULL, 'ci')", house["h"])[0]
    with as_service(arbedb_conn) as cur:
        assert len(cur.execute("SELECT * FROM arbe.resolve_api_key(%s)", (key,)).fetchall()) == 1
        cur.execute(f"UPDATE api_keys SET {spoil}")
        assert cur.execute("SELECT * FROM arbe.resolve_api_key(%s)", (key,)).fetchall() == []


# ---------------------------------------------------------------- secrets

def test_secret_set_by_admin_read_by_service_only(arbedb_conn, house):
    call(arbedb_conn, house["admin"], "SELECT arbe.set_secret(%s, 's3cr3t-value')", house["secret"])
    assert "s3cr3t-value" not in "\n".join(
        str(r) for t in ("secrets", "environments", "agents") for r in arbedb_conn.execute(
            f"SELECT t::text FROM {t} AS t").fetchall())
    with as_service(arbedb_conn) as cur:
        assert cur.execute("SELECT arbe.read_secret(%s)", (house["secret"],)).fetchone()[0] == "s3cr3t-value"
    with pytest.raises(errors.InsufficientPrivilege):
        call(arbedb_conn, house["admin"], "SELECT arbe.read_secret(%s)", house["secret"])
    arbedb_conn.rollback()
    with pytest.raises(errors.InsufficientPrivilege):
        call(arbedb_conn, house["member"], "SELECT arbe.set_secret(%s, 'x')", house["secret"])
    arbedb_conn.rollback()
    with pytest.raises(errors.InsufficientPrivilege):
        with as_user(arbedb_conn, house["admin"]) as cur:
            cur.execute("SELECT * FROM arbe_private.secret_values")


def test_private_tables_show_nothing_even_after_a_stray_grant(arbedb_conn, house):
    """RLS with no policy, forced, behind the missing grants: one stray GRANT to a
    caller role still exposes zero rows and takes no write."""
    call(arbedb_conn, house["admin"], "SELECT arbe.set_secret(%s, 's3cr3t-value')", house["secret"])
    call(arbedb_conn, house["admin"], "SELECT arbe.create_invite(%s, 'n@example.com', 'member')", house["h"])
    call(arbedb_conn, house["admin"], "SELECT arbe.create_api_key(%s, NULL, 'ci')", house["h"])
    call(arbedb_conn, house["admin"], "INSERT INTO public.threads (id, house_id, kind, status) "
         "VALUES (gen_random_uuid(), %s, 'chat', 'open') RETURNING id", house["h"])  # a registered thread id
    flags = arbedb_conn.execute("SELECT c.oid::regclass::text, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c "
                                "WHERE c.relnamespace = 'arbe_private'::regnamespace AND c.relkind = 'r'").fetchall()
    assert sorted(flags) == sorted((t, True, True) for t in PRIVATE_TABLES)
    for table in PRIVATE_TABLES:
        assert arbedb_conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] > 0  # the owner's definer path
        # (service_role has BYPASSRLS by design: against it, hashing and sealing are the defence.)
        arbedb_conn.execute(f"GRANT USAGE ON SCHEMA arbe_private TO authenticated;"
                            f"GRANT SELECT, UPDATE, DELETE ON {table} TO authenticated")
        with as_user(arbedb_conn, house["admin"]) as cur:
            assert cur.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0
            assert cur.execute(f"DELETE FROM {table}").rowcount == 0
    arbedb_conn.rollback()


def test_txid_is_the_transactions_32_bit_xid(arbedb_conn, house):
    with as_user(arbedb_conn, house["member"]) as cur:
        txid = cur.execute("SELECT arbe.txid()").fetchone()[0]
        full = cur.execute("SELECT pg_current_xact_id()::text::bigint").fetchone()[0]
        assert txid == full % 2**32 and txid > 0
