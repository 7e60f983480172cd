"""The shortcuts that make the caller's identity cheap (policies/10_identity.sql) can
neither be forged nor outlive the claims or the role they were taken from.

arbe.claims_may_name skips the JSON parse when the claims' text cannot hold a sub
or a key id; arbe.caller_bypasses_rls asks row_security_active instead of
pg_roles. Neither keeps anything between calls. A caller can SET any setting
(the claims included, mid-transaction), SET LOCAL ROLE to a role it belongs to,
and create objects in its pg_temp: each attack below has its allowed and its
denied case."""

from __future__ import annotations

import json

import pytest
from psycopg import errors

from arbedb.testing.impersonate import AUTHENTICATED, SERVICE, acting_as, user_claims
from arbedb.testing.world import WorldBuilder

IDENTITY = "SELECT arbe.caller_id(), arbe.caller_agent_id(), arbe.caller_key_house_id()"
ESCAPED_KEY = "arbe\\u005fapi_key_id"  # JSON text for the key name arbe_api_key_id
ESCAPED_SUB = "s\\u0075b"  # JSON text for sub


@pytest.fixture
def world(arbedb_conn):
    w = WorldBuilder(arbedb_conn)
    owner, other = w.user("o@example.com"), w.user("x@example.com")
    h, h2 = w.house("Home", created_by=owner), w.house("Elsewhere", created_by=other)
    agent = w.row("agents", h)
    key = w.row("api_keys", h, agent_id=agent)
    thread = w.row("threads", h, agent_id=agent)
    arbedb_conn.commit()
    return dict(owner=owner, other=other, h=h, h2=h2, agent=agent, key=key, thread=thread)


def raw(text: str) -> str:
    return text  # acting_as takes a str verbatim: the claims exactly as a token could carry them


def houses(cur):
    return {r[0] for r in cur.execute("SELECT id FROM public.houses")}


# ------------------------------------------------ the parse skipped by the text

def test_an_escaped_key_name_is_still_the_key(arbedb_conn, world):
    """Allowed: JSON may spell the key name with escapes; the text check then
    cannot rule it out (a backslash), and the parse finds the key."""
    claims = '{"role": "authenticated", "%s": "%s"}' % (ESCAPED_KEY, world["key"])
    with acting_as(arbedb_conn, AUTHENTICATED, raw(claims)) as cur:
        assert cur.execute(IDENTITY).fetchone() == (None, world["agent"], world["h"])
        assert houses(cur) == {world["h"]}
        assert cur.execute("SELECT arbe.can_access_thread(%s)", (world["thread"],)).fetchone() == (True,)


def test_an_escaped_sub_is_still_the_user(arbedb_conn, world):
    claims = '{"role": "authenticated", "%s": "%s"}' % (ESCAPED_SUB, world["owner"])
    with acting_as(arbedb_conn, AUTHENTICATED, raw(claims)) as cur:
        assert cur.execute(IDENTITY).fetchone() == (world["owner"], None, None)
        assert houses(cur) == {world["h"]}


@pytest.mark.parametrize("spelling", ["sub escaped", "key escaped", "both escaped", "neither escaped"])
def test_a_sub_beside_a_key_is_nobody_however_either_is_spelled(arbedb_conn, world, spelling):
    """Denied: escaping one name cannot hide it from the both-present rule."""
    sub = ESCAPED_SUB if spelling in ("sub escaped", "both escaped") else "sub"
    key = ESCAPED_KEY if spelling in ("key escaped", "both escaped") else "arbe_api_key_id"
    claims = '{"role": "authenticated", "%s": "%s", "%s": "%s"}' % (sub, world["owner"], key, world["key"])
    with acting_as(arbedb_conn, AUTHENTICATED, raw(claims)) as cur:
        assert cur.execute(IDENTITY).fetchone() == (None, None, None)
        assert houses(cur) == set()


@pytest.mark.parametrize("where", ["nested", "a value", "another key's prefix"])
def test_a_key_name_that_is_not_a_top_level_key_is_no_key(arbedb_conn, world, where):
    """Denied: the name in the text sends the claims down the parse, which finds no key."""
    extra = {"nested": {"app_metadata": {"arbe_api_key_id": str(world["key"])}},
             "a value": {"note": "arbe_api_key_id"},
             "another key's prefix": {"arbe_api_key_id_old": str(world["key"])}}[where]
    with acting_as(arbedb_conn, AUTHENTICATED, {**user_claims(world["owner"]), **extra}) as cur:
        assert cur.execute(IDENTITY).fetchone() == (world["owner"], None, None)
        assert houses(cur) == {world["h"]}
    with acting_as(arbedb_conn, AUTHENTICATED, {"role": "authenticated", **extra}) as cur:
        assert cur.execute(IDENTITY).fetchone() == (None, None, None)
        assert houses(cur) == set()


def test_the_text_check_answers_cannot_only_when_it_cannot(arbedb_conn, world):
    cases = {
        json.dumps(user_claims(world["owner"])): (True, False),
        json.dumps({"role": "authenticated", "arbe_api_key_id": str(world["key"])}): (False, True),
        '{"role": "authenticated", "note": "\\u00e9"}': (True, True),  # any backslash: maybe
        "not json at all": (False, False),
    }
    for claims, expected in cases.items():
        with acting_as(arbedb_conn, AUTHENTICATED, raw(claims)) as cur:
            assert cur.execute("SELECT arbe.claims_may_name('sub'), arbe.claims_may_name('arbe_api_key_id')"
                               ).fetchone() == expected, claims


# ------------------------------------------------ nothing carried between statements

def test_claims_set_mid_transaction_are_who_the_next_statement_is(arbedb_conn, world):
    """Allowed and denied at once: the owner's statement sees Home, then the same
    transaction, re-claimed as the key, as another user and as no one, sees what each may."""
    with acting_as(arbedb_conn, AUTHENTICATED, user_claims(world["owner"])) as cur:
        assert houses(cur) == {world["h"]}
        for claims, expected in ((json.dumps({"role": "authenticated", "arbe_api_key_id": str(world["key"])}),
                                  {world["h"]}),
                                 (json.dumps(user_claims(world["other"])), {world["h2"]}),
                                 ("", set()),
                                 (json.dumps(user_claims(world["owner"])), {world["h"]})):
            cur.execute("SELECT set_config('request.jwt.claims', %s, true)", (claims,))
            assert houses(cur) == expected, claims
            key_house = cur.execute("SELECT k.house_id FROM arbe.acting_key() AS k").fetchall()
            assert key_house == ([(world["h"],)] if "arbe_api_key_id" in claims else [])


# ------------------------------------------------ who bypasses RLS

BYPASSES = "SELECT arbe.caller_bypasses_rls()"


def test_only_roles_rls_does_not_apply_to_bypass(arbedb_conn, world):
    assert arbedb_conn.execute(BYPASSES).fetchone() == (True,)  # the migrating role
    with acting_as(arbedb_conn, SERVICE, {"role": SERVICE}) as cur:
        assert cur.execute(BYPASSES).fetchone() == (True,)
        cur.execute("SET LOCAL ROLE authenticated")  # trusted code that drops its rights
        assert cur.execute(BYPASSES).fetchone() == (False,)
    with acting_as(arbedb_conn, AUTHENTICATED, user_claims(world["owner"])) as cur:
        assert cur.execute(BYPASSES).fetchone() == (False,)


def test_what_a_caller_sets_never_makes_the_answer_a_lie(arbedb_conn, world):
    """Whatever the caller SETs, the answer is whether RLS applies to it at that
    moment: a setting can never make it say "bypasses" while RLS still holds the
    caller (nor the reverse). SET ROLE service_role is allowed where the session
    user may (PostgREST's authenticator, this test's superuser): then the caller
    *is* service_role, and bypasses for real."""
    every_house = {world["h"], world["h2"]}
    with acting_as(arbedb_conn, AUTHENTICATED, user_claims(world["owner"])) as cur:
        for setting, value in (("request.jwt.claims", json.dumps({"role": "service_role"})),
                               ("request.jwt.claim.role", "service_role"), ("row_security", "off"),
                               ("arbe.bypass", "on"), ("role", "service_role"), ("role", "authenticated")):
            with arbedb_conn.transaction():
                cur.execute("SELECT set_config(%s, %s, true)", (setting, value))
                try:
                    with arbedb_conn.transaction():
                        seen = houses(cur)
                except errors.InsufficientPrivilege:  # row_security = off and RLS applies: an error, not rows
                    seen = None
                bypasses = cur.execute(BYPASSES).fetchone()[0]
                assert bypasses == (seen == every_house), (setting, value)
                assert bypasses == (setting == "role" and value == "service_role"), (setting, value)


def test_a_temp_table_named_like_the_asked_table_changes_nothing(arbedb_conn, world):
    """Denied: the caller's own (RLS-free) pg_temp.houses, first on its search_path, is not what is asked."""
    with acting_as(arbedb_conn, AUTHENTICATED, user_claims(world["owner"])) as cur:
        cur.execute("CREATE TEMP TABLE houses (id uuid)")
        cur.execute("SET LOCAL search_path = pg_temp, public")
        assert cur.execute(BYPASSES).fetchone() == (False,)
        assert cur.execute("SELECT arbe.caller_id()").fetchone() == (world["owner"],)


def test_caller_api_key_id_names_the_claimed_key_only(arbedb_conn, world):
    """Allowed: a key's claims (escaped or not) give its id; denied: a user, both at once, nested, malformed."""
    key = str(world["key"])
    cases = {
        json.dumps({"role": "authenticated", "arbe_api_key_id": key}): world["key"],
        '{"role": "authenticated", "%s": "%s"}' % (ESCAPED_KEY, key): world["key"],
        json.dumps(user_claims(world["owner"])): None,
        json.dumps({"role": "authenticated", "sub": str(world["owner"]), "arbe_api_key_id": key}): None,
        json.dumps({"role": "authenticated", "app_metadata": {"arbe_api_key_id": key}}): None,
        '{"role": "authenticated", "arbe_api_key_id": "%s"' % key: None,
    }
    for claims, expected in cases.items():
        with acting_as(arbedb_conn, AUTHENTICATED, raw(claims)) as cur:
            assert cur.execute("SELECT arbe.caller_api_key_id()").fetchone() == (expected,), claims
