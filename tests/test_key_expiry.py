"""An API key's expiry, like its revocation, takes effect on the next statement,
also inside a transaction that began while the key was live (arbe.live_api_key
judges expiry at statement_timestamp(), not at now(), the transaction's start)."""

from __future__ import annotations

import pytest

from arbedb.testing.impersonate import clear_identity, key_claims, set_identity
from arbedb.testing.world import WorldBuilder

EXPIRE = "UPDATE public.api_keys SET expires_at = pg_catalog.clock_timestamp() + %s::pg_catalog.interval WHERE id = %s"


@pytest.mark.parametrize(("left", "acts_after"), [("0 seconds", False), ("1 hour", True)])
def test_a_key_expiring_inside_an_open_transaction_stops_at_its_next_statement(arbedb_conn, left, acts_after):
    w = WorldBuilder(arbedb_conn)
    owner = w.user("o@example.com")
    house = w.house("h", created_by=owner)
    agent = w.row("agents", house)
    w.row("threads", house, agent_id=agent)
    key = w.row("api_keys", house, agent_id=agent)
    with arbedb_conn.transaction(force_rollback=True), arbedb_conn.cursor() as cur:
        def as_key() -> tuple:
            set_identity(cur, "authenticated", key_claims(key))
            seen = cur.execute("SELECT (SELECT count(*) FROM public.threads), arbe.caller_agent_id()").fetchone()
            clear_identity(cur)
            return seen

        assert as_key() == (1, agent)
        # The key's expiry passes (or not) after the transaction began: a later,
        # committed write in the server's real flow; here the same transaction's.
        cur.execute(EXPIRE, (left, key))
        assert as_key() == ((1, agent) if acts_after else (0, None))
        assert cur.execute("SELECT count(*) FROM arbe.resolve_api_key('nope')").fetchone() == (0,)
