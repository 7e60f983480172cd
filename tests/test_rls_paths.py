"""Issue 18 item 11, the paths the property never took (rls/paths.py): the Data API
wrappers, service_role in a soft-deleted house, a world at its creation limits, invite
emails typed with spaces and case, an inviter demoted or standing in another house; and
the verdict: a statement that errors is a disagreement naming it, while a database not
at head still gets the one-line at-head error."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest

from arbedb.rls.checks import Disagreement, run
from arbedb.rls.mutants import derive
from conftest import PERMS
from mutant_support import assert_killed_with

# Each mutant, and what its disagreement names. Every part of the sweep that kills them
# is deterministic in every world (the core rows, the callers, the sweep), so two worlds
# suffice here; the mutation run (10 worlds) and rls-test (100) kill them on every seed tried.
PATHS = {
    # the Data API wrappers, called as every caller kind and kept as an owner
    "wrapper create_invite: invites grant admin": "expected a new invites row",
    "wrapper create_api_key: agent keys made house-wide": "expected a new api_keys row",
    "Data API wrappers: not executable by authenticated": "public.create_invite",
    "Data API wrappers: SECURITY DEFINER, executable by PUBLIC": "with a user's token: public.create_invite",
    # service_role in a soft-deleted house
    "function assert_keeps_an_owner: a soft-deleted house keeps its last owner too": "service_role in a soft-deleted house",
    "function retire_ownerless_house: a soft-deleted house is deleted again": "soft-deleted rows changed: houses",
    # a world at its creation limits
    "trigger houses_limit_creation: dropped": "creation on houses is not limited",
    "trigger invites_limit_creation: dropped": "creation on invites is not limited",
    "trigger api_keys_limit_creation: dropped": "creation on api_keys is not limited",
    "function limit_creation: one creation past the limit": "made in the last day",
    "function limit_creation: the house's count takes creators without standing": "was refused (54000",
    "function limit_creation: no limit per house": "499 invites made in the last day",
    # invite emails typed with surrounding spaces and in upper case
    "function create_invite: emails stored as typed": "the database made [{'email': '  USER",
    "function email_key: surrounding spaces kept": "the database made [{'email': '  user",
    # an inviter demoted, and one standing in another house
    "function holds_admin_standing: demoted admins keep their standing": "lookup_invite",
    "function holds_admin_standing: an inviter's standing in another house counts": "lookup_invite",
    # the verdict: an error is a disagreement naming the statement
    "function lookup_invite: the look-up reads a column that is not there":
        "a statement failed (42703: column i.expired_at does not exist; in 'SELECT i.house_id",
}


def test_the_paths_mutants_are_killed_and_the_schema_as_written_passes(arbedb_cluster, arbedb_template,
                                                                       arbedb_project):
    assert_killed_with(arbedb_cluster, arbedb_template, arbedb_project, PATHS)


def test_the_limits_follow_the_configured_numbers(arbedb_dsn):
    """The numbers are the project's (the trigger arguments): raised, the property
    fills the world up to the new number and passes; that a limit exists is the model's."""
    with psycopg.connect(arbedb_dsn, autocommit=True) as conn:
        conn.execute("CREATE OR REPLACE TRIGGER houses_limit_creation BEFORE INSERT ON public.houses "
                     "FOR EACH ROW EXECUTE FUNCTION arbe.limit_creation('created_by', '25')")
    run(arbedb_dsn, PERMS, examples=2, seed_value=0, shrink=False, full_sweep=True)
    with psycopg.connect(arbedb_dsn, autocommit=True) as conn:
        conn.execute("ALTER TABLE public.houses DISABLE TRIGGER houses_limit_creation")
    with pytest.raises(Disagreement, match=r"^creation on houses is not limited"):
        run(arbedb_dsn, PERMS, examples=2, seed_value=0, shrink=False, full_sweep=True)


def _rls_test(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "arbedb.cli", "rls-test", *args],
                          capture_output=True, text=True, timeout=300)


def test_a_world_that_cannot_load_is_a_disagreement_naming_the_statement(arbedb_dsn):
    """A trigger that fails service_role's own INSERT: the world cannot even be loaded.
    Before, that escaped the world and read "is it at head? run arbedb apply"."""
    with psycopg.connect(arbedb_dsn, autocommit=True) as conn:
        conn.execute("CREATE FUNCTION public.arbedb_test_fail() RETURNS trigger LANGUAGE plpgsql AS "
                     "$$ BEGIN RAISE EXCEPTION 'no secrets today' USING ERRCODE = 'P0001'; END $$")
        conn.execute("CREATE TRIGGER arbedb_test_fail BEFORE INSERT ON public.secrets "
                     "FOR EACH ROW EXECUTE FUNCTION public.arbedb_test_fail()")
    proc = _rls_test("--dsn", arbedb_dsn, "--examples", "2")
    assert proc.returncode == 1
    first = proc.stderr.splitlines()[0]
    assert first.startswith("arbedb: error: RLS disagrees with the model: a statement failed (P0001: no secrets "
                            "today; PL/pgSQL function arbedb_test_fail() line 1 at RAISE) while loading the world"), first
    assert "arbedb apply" not in proc.stderr


def test_a_database_not_at_head_still_gets_the_one_line_at_head_error(arbedb_cluster):
    """The other side: a database with no revision applied is not a disagreement."""
    with arbedb_cluster.database() as dsn:
        proc = _rls_test("--dsn", dsn, "--examples", "2")
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "is not migrated" in proc.stderr and "run `arbedb apply`" in proc.stderr
    assert "disagrees" not in proc.stderr


def test_the_property_on_a_database_missing_what_it_reads_says_at_head(arbedb_dsn):
    """Past the revision check (a role that may not read it), what the property needs
    before any world, missing, is the at-head error, in one line."""
    from arbedb.errors import ArbedbError
    from arbedb.rls.command import property_test

    with psycopg.connect(arbedb_dsn, autocommit=True) as conn:
        conn.execute("DROP FUNCTION arbe.caller_agent_id() CASCADE")
    with pytest.raises(ArbedbError, match=r"could not run on this database .*is it at head\? run `arbedb apply`"):
        property_test(arbedb_dsn, PERMS, examples=2, seed_value=0)


def test_cli_reports_a_mutant_whose_statements_error_as_a_disagreement(arbedb_dsn, arbedb_project):
    """At rls-test's default example count: the mutant's missing column (42703, which used
    to mean "not at head") is the schema misbehaving, named with the query and function."""
    mutant = next(m for m in derive(arbedb_project, PERMS)
                  if m.name == "function lookup_invite: the look-up reads a column that is not there")
    with psycopg.connect(arbedb_dsn, autocommit=True) as conn:
        conn.execute(mutant.sql)
    proc = _rls_test("--dsn", arbedb_dsn)
    assert proc.returncode == 1
    first = proc.stderr.splitlines()[0]
    assert first.startswith("arbedb: error: RLS disagrees with the model: a statement failed (42703: column "
                            "i.expired_at does not exist; in 'SELECT i.house_id, h.name, i.role, i.expired_at"), first
    assert "PL/pgSQL function arbe.lookup_invite(text) line 3 at RETURN QUERY) while reading the world as every " \
           "caller" in first, first
    assert "arbedb apply" not in proc.stderr
    assert "world at the disagreement:" in proc.stderr
