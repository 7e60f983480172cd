"""Mutation testing's own machinery (`arbedb rls-test --mutate` runs every mutant in CI):
a mutant the property sees is killed, one it cannot see survives, and a schema that
already fails the property stops the run instead of "killing" everything."""

from __future__ import annotations

import psycopg
import pytest

from arbedb.errors import ArbedbError
from arbedb.rls.mutants import Mutant, derive, run_mutants
from conftest import PERMS
from mutant_support import assert_killed_with


def test_a_real_hole_is_killed_and_a_harmless_change_survives(arbedb_cluster, arbedb_template):
    hole = Mutant("threads readable by all", "ALTER POLICY threads_select ON public.threads USING (true);", "t")
    harmless = Mutant("a comment", "COMMENT ON TABLE public.threads IS 'changed';", "t")
    verdicts = {v.mutant.name: v for v in run_mutants(arbedb_cluster.admin_dsn, arbedb_template, [hole, harmless], PERMS,
                                                      examples=2, seed_value=0, jobs=2)}
    assert verdicts["threads readable by all"].killed
    assert "SELECT threads" in verdicts["threads readable by all"].reason
    assert not verdicts["a comment"].killed


def test_a_schema_failing_the_property_stops_the_run(arbedb_cluster, arbedb_template):
    with arbedb_cluster.database(template=arbedb_template) as dsn:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("ALTER POLICY members_select ON public.members USING (true)")
            broken = conn.info.dbname
        with pytest.raises(ArbedbError, match=r"fails on the unmutated schema \(.*SELECT members"):
            run_mutants(arbedb_cluster.admin_dsn, broken, [], PERMS, examples=2, seed_value=0, jobs=1)


def test_every_policy_guard_and_grant_has_mutants(arbedb_project):
    names = [m.name for m in derive(arbedb_project, PERMS)]
    assert len(names) == len(set(names))
    for expected in ("policy threads_select: USING (true)", "policy threads_select: TO PUBLIC",
                     "policy threads_insert: WITH CHECK (true)", "trigger members_guard: dropped"):
        assert any(n.startswith(expected.split(":")[0]) for n in names), expected
    assert sum(n.startswith("execute ") for n in names) >= 2


def test_private_tables_revoked_invites_and_helper_grants_are_in_the_property(arbedb_cluster, arbedb_template, arbedb_project):
    """The property reads every arbe_private table as every caller kind, and tries
    to accept revoked, expired and used invites, and knows which definer functions
    callers may run: a stray grant on the private tables, an accept_invite that
    takes a soft-deleted invite, and a helper re-granted to callers are killed."""
    wanted = {"arbe_private's tables readable by callers": "arbe_private",
              "function accept_invite: revoked invites accepted by accept_invite alone": "accept_invite",
              "execute arbe.lock_house(uuid) granted to authenticated": "may EXECUTE arbe.lock_house",
              "execute arbe.assert_keeps_an_owner(uuid, uuid) granted to authenticated":
                  "may EXECUTE arbe.assert_keeps_an_owner"}
    mutants = [m for m in derive(arbedb_project, PERMS) if m.name in wanted]
    assert len(mutants) == len(wanted)
    verdicts = run_mutants(arbedb_cluster.admin_dsn, arbedb_template, mutants, PERMS, examples=2, seed_value=0, jobs=2)
    for verdict in verdicts:
        assert verdict.killed, f"{verdict.mutant.name} survived: {verdict.reason}"
        assert wanted[verdict.mutant.name] in verdict.reason, verdict.reason


# Issue 18 item 11, the property's blind spots: each mutant below passed the property
# before it sent the claims, wrote the columns or read the copies that now show it.
# Deterministic parts of every world (callers, the sweep), so two worlds suffice.
BLIND_SPOTS = {
    # claims it never sent
    "function caller_claims: a JSON-null sub beside a key is ignored": "JSON-null sub and key ",
    "function caller_claims: a non-uuid sub beside a key is ignored": "non-uuid sub and key ",
    "function caller_claims: a malformed key id is cast (an error, not nobody)": "a statement failed (22P02",
    "function caller_agent_id: a dead key's agent": "caller_agent_id): database",
    "function caller_key_house_id: a dead key's house": "caller_agent_id): database",
    # columns it never wrote, copies it never read
    "trigger threads_limit_key_columns: keys change environment_id, kind and config": "UPDATE threads",
    "function mirror_house_liveness: a caller's write of the copy is kept": "house_deleted_at",
    "function cascade_key_liveness: revoked keys' copies go stale": "liveness copies",
    # time: one transaction, so now() never moves; the loaded rows carry an older stamp
    "trigger threads_touch_updated_at: no-op writes bump updated_at": "a no-op write leaves it",
    "function limit_key_columns: a key's write that also sends updated_at is refused": "UPDATE threads",
    "function stamp_inserted: keys' INSERTs keep client timestamps": "other than the server's time",
    # found by luck before (a random set_secret): the sweep now asks a soft-deleted house's own members
    "function house_role: soft-deleted houses count": "was accepted",
    # commands it never sent
    "table public.threads: callers may DELETE": "DELETE threads",
    "table public.members: callers may DELETE": "DELETE members",
    "function accept_invite: a member who left cannot come back": "expected a new members row",
}


def test_the_blind_spots_mutants_are_killed(arbedb_cluster, arbedb_template, arbedb_project):
    assert_killed_with(arbedb_cluster, arbedb_template, arbedb_project, BLIND_SPOTS)


# The guards' trigger WHEN clauses (issue 19: the common write never enters PL/pgSQL):
# a WHEN that lets too little in is a hole the property must see.
WHEN_CLAUSES = {
    "trigger threads_touch_updated_at: no-op writes bump updated_at": "a no-op write leaves it",
    "trigger threads_keep_immutable: created_by left out of the WHEN": "UPDATE threads",
    "trigger agents_freeze_deleted: deleted rows stay writable (WHEN)": "agents",
    "trigger members_mirror_house_liveness_on_update: dropped": "house_deleted_at",
}


def test_the_when_clauses_mutants_are_killed(arbedb_cluster, arbedb_template, arbedb_project):
    assert_killed_with(arbedb_cluster, arbedb_template, arbedb_project, WHEN_CLAUSES)
