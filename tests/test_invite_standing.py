"""An invite works only while whoever created it could still create it
(docs/decisions.md): removing the admin who invited, demoting them to member, or
deleting their account ends their pending invites; an owner's and server code's
invites (no invited_by) are unaffected. Checked at lookup and at accept."""

from __future__ import annotations

import psycopg
import pytest

from arbedb.testing.impersonate import SERVICE, acting_as, set_identity, user_claims
from arbedb.testing.world import WorldBuilder

INVITEE = "new@example.com"
SPOILERS = {
    "kept": None,
    "removed": "UPDATE public.members SET deleted_at = now() WHERE user_id = %s",
    "demoted": "UPDATE public.members SET role = 'member' WHERE user_id = %s",
    "account deleted": "DELETE FROM auth.users WHERE id = %s",
}


@pytest.fixture
def invited(arbedb_conn):
    w = WorldBuilder(arbedb_conn)
    owner, admin, invitee = w.user("o@example.com"), w.user("a@example.com"), w.user(INVITEE)
    h = w.house("h", created_by=owner)
    w.member(h, admin, "admin")
    with arbedb_conn.cursor() as cur:
        set_identity(cur, "authenticated", user_claims(admin))
        token = cur.execute("SELECT arbe.create_invite(%s, %s, 'member')", (h, INVITEE)).fetchone()[0]
    arbedb_conn.commit()
    return arbedb_conn, admin, invitee, token


@pytest.mark.parametrize("what", sorted(SPOILERS))
def test_an_invite_stops_working_when_its_admin_is_removed(invited, what):
    conn, admin, invitee, token = invited
    if what == "account deleted":  # as the auth server does, with its own role
        conn.execute(SPOILERS[what], (admin,))
    elif SPOILERS[what]:
        with acting_as(conn, SERVICE, {"role": SERVICE}, keep=True) as cur:
            cur.execute(SPOILERS[what], (admin,))
    conn.commit()
    works = what == "kept"
    with acting_as(conn, "authenticated", user_claims(invitee, INVITEE)) as cur:
        assert bool(cur.execute("SELECT * FROM arbe.lookup_invite(%s)", (token,)).fetchall()) == works
        if works:
            assert cur.execute("SELECT arbe.accept_invite(%s)", (token,)).fetchone()[0]
        else:
            with pytest.raises(psycopg.errors.InvalidParameterValue):
                cur.execute("SELECT arbe.accept_invite(%s)", (token,))
