"""An invite's email binding folds case on ASCII letters only (arbe.email_key), in
lookup_invite and accept_invite alike, whatever the database's locale.

The tests' own servers are initialised with the C locale, where lower() is ASCII
anyway; Supabase's databases have a Unicode-aware one (C.UTF-8 / en_US.UTF-8),
where lower() maps the Kelvin sign U+212A to `k`. So this runs on a database
created with such a locale, migrated from scratch."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from arbedb.commands import apply
from arbedb.testing.impersonate import acting_as, as_user, user_claims
from arbedb.testing.world import WorldBuilder

KELVIN = "\u212a"
SAME_ERROR = "invite is invalid, expired, used or revoked"


@pytest.fixture(scope="module")
def unicode_dsn(arbedb_cluster, arbedb_project):
    name = f"arbedb_unicode_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(arbedb_cluster.admin_dsn, autocommit=True) as admin:
        try:
            admin.execute(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' "
                          "LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'")
        except psycopg.errors.InvalidParameterValue as exc:
            pytest.skip(f"the operating system has no C.UTF-8 locale for the server ({exc.diag.message_primary})")
    dsn = arbedb_cluster.dsn_for(name)
    try:
        apply(arbedb_project, dsn)
        with psycopg.connect(dsn) as conn:  # the locale this test is about
            assert conn.execute(f"SELECT lower('{KELVIN}ate')").fetchone()[0] == "kate"
        yield dsn
    finally:
        arbedb_cluster.drop_database(name)


@pytest.fixture
def invite(unicode_dsn):
    with psycopg.connect(unicode_dsn) as conn:
        w = WorldBuilder(conn)
        owner = w.user("owner@corp.com")
        house = w.house("Acme", created_by=owner)
        kate = w.user("kate@corp.com")
        with acting_as(conn, "authenticated", user_claims(owner, "owner@corp.com"), keep=True) as cur:
            token = cur.execute("SELECT arbe.create_invite(%s, ' Kate@Corp.com ', 'member')", (house,)).fetchone()[0]
            kelvin_token = cur.execute("SELECT arbe.create_invite(%s, %s, 'member')",
                                       (house, f"{KELVIN}ate@corp.com")).fetchone()[0]
        conn.commit()
        yield dict(conn=conn, house=house, kate=kate, token=token, kelvin_token=kelvin_token)
        conn.rollback()
        conn.execute("DELETE FROM public.members WHERE house_id = %s", (house,))
        conn.execute("DELETE FROM public.invites WHERE house_id = %s", (house,))
        conn.execute("DELETE FROM public.houses WHERE id = %s", (house,))
        conn.commit()


def lookup(conn, user, email, token):
    with as_user(conn, user, email) as cur:
        return cur.execute("SELECT house_id, role FROM arbe.lookup_invite(%s)", (token,)).fetchall()


def accept(conn, user, email, token):
    with as_user(conn, user, email) as cur:
        return cur.execute("SELECT arbe.accept_invite(%s)", (token,)).fetchone()[0]


def test_invite_email_binding_folds_ascii_case_only(invite):
    conn, kate = invite["conn"], invite["kate"]
    # Denied: the Kelvin sign is not `k`, in the look-up and in the accept.
    kelvin = f"{KELVIN}ATE@corp.com"
    assert lookup(conn, kate, kelvin, invite["token"]) == []
    with pytest.raises(psycopg.errors.InvalidParameterValue, match=SAME_ERROR):
        accept(conn, kate, kelvin, invite["token"])
    # ... nor the other way round: an invite written with it is not kate's.
    assert lookup(conn, kate, "kate@corp.com", invite["kelvin_token"]) == []
    with pytest.raises(psycopg.errors.InvalidParameterValue, match=SAME_ERROR):
        accept(conn, kate, "kate@corp.com", invite["kelvin_token"])
    # Allowed: ASCII case and surrounding spaces do not matter.
    assert lookup(conn, kate, "KATE@corp.COM", invite["token"]) == [(invite["house"], "member")]
    assert accept(conn, kate, " KATE@corp.COM", invite["token"]) is not None


def test_invite_email_is_stored_without_unicode_folding(invite):
    emails = {r[0] for r in invite["conn"].execute(
        "SELECT email FROM public.invites WHERE house_id = %s", (invite["house"],)).fetchall()}
    assert emails == {"kate@corp.com", f"{KELVIN}ate@corp.com"}
