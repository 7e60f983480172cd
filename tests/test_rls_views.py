"""What is not a caller's view (issue 18 item 11): the sealing's bytes at rest, the
`electric` role's grants and the races of the lock functions. Each view passes on the
schema as written and kills each of its mutants, deterministically (no worlds drawn);
`rls-test --mutate` runs the same checks (rls/views.py)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from arbedb.config import find_project
from arbedb.rls import electric_grants, lock_mutants, race_scenarios, sealing, views
from arbedb.rls.mutants import derive, run_mutants
from conftest import PERMS


# Derived once, as `rls-test --mutate` derives them (names are stable; the electric
# roles' random suffix is drawn here).
ALL = {m.name: m for m in derive(find_project(Path(__file__).resolve().parent.parent), PERMS)}
SEALING_WHAT = {what for rules in sealing.MUTATIONS.values() for what, _, _ in rules}
SEALING = {n: m for n, m in ALL.items() if n.startswith("function ") and n.split(": ", 1)[1] in SEALING_WHAT}
ELECTRIC = {n: m for n, m in ALL.items() if n.startswith("electric:")}
LOCKS = {n: m for n, m in ALL.items() if n.startswith("lock ")}


def test_every_new_mutant_is_derived():
    assert len(SEALING) == len(SEALING_WHAT) and len(LOCKS) == sum(map(len, lock_mutants.LOCK_MUTATIONS.values()))
    assert all(m.races for m in LOCKS.values()) and len(ELECTRIC) >= 15


def _apply(dsn: str, sql_text: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql_text)


# ---------------------------------------------------------------- sealing

def test_the_sealing_view_holds_on_the_schema_as_written(arbedb_conn):
    sealing.check(arbedb_conn)


@pytest.mark.parametrize("name", sorted(SEALING))
def test_each_sealing_mutant_is_seen(arbedb_conn, arbedb_dsn, name):
    if not sealing.sealable(arbedb_conn):
        pytest.skip("the server has no sealing key (the embedded test server has one)")
    _apply(arbedb_dsn, SEALING[name].sql)
    with pytest.raises(sealing.Unseen):
        sealing.check(arbedb_conn)


# ---------------------------------------------------------------- the electric role

def test_the_electric_view_holds_on_the_schema_as_written(arbedb_conn, arbedb_project):
    electric_grants.check(arbedb_conn, arbedb_project)


@pytest.mark.parametrize("name", sorted(ELECTRIC))
def test_each_electric_mutant_is_seen(arbedb_cluster, arbedb_dsn, arbedb_project, name):
    mutant = ELECTRIC[name]
    try:
        _apply(arbedb_dsn, mutant.sql)
        reason = views.unseen(arbedb_dsn, arbedb_project, mutant.electric_role)
        assert reason and (mutant.electric_role or "electric") in reason, reason
    finally:
        if mutant.electric_role:
            with psycopg.connect(arbedb_dsn, autocommit=True) as conn:
                conn.execute(f'DROP OWNED BY "{mutant.electric_role}"')
                conn.execute(f'DROP ROLE "{mutant.electric_role}"')


# ---------------------------------------------------------------- races

@pytest.mark.parametrize("name", sorted(LOCKS))
def test_each_lock_mutant_is_seen_by_its_races(arbedb_dsn, name):
    mutant = LOCKS[name]
    _apply(arbedb_dsn, mutant.sql)
    with pytest.raises(sealing.Unseen, match="race"):
        race_scenarios.check(arbedb_dsn, mutant.races)


def test_mutate_kills_a_mutant_of_each_view_and_the_baseline_faces_them(arbedb_cluster, arbedb_template, arbedb_project):
    """Through run_mutants, as `rls-test --mutate` runs them: one mutant per view."""
    wanted = {"function random_nonce: one nonce for every seal": "repeats across seals",
              "electric: a member of service_role": "arbedb_mutant_electric_",
              "lock limit_creation: the slot taken after the count": "race creation slots"}
    mutants = [m for m in derive(arbedb_project, PERMS) if m.name in wanted]
    assert len(mutants) == len(wanted)
    verdicts = run_mutants(arbedb_cluster.admin_dsn, arbedb_template, mutants, PERMS, examples=2, seed_value=0, jobs=2,
                           project=arbedb_project)
    for verdict in verdicts:
        assert verdict.killed, f"{verdict.mutant.name} survived: {verdict.reason}"
        assert wanted[verdict.mutant.name] in verdict.reason, verdict.reason
