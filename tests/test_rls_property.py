"""The RLS property (arbedb.rls) on the project's own schema, CI-sized and reproducible:
a fixed seed and no hypothesis example database, so every run draws the same worlds."""

from __future__ import annotations

import os

import pytest

from arbedb.rls.checks import Disagreement, run

EXAMPLES = int(os.environ.get("ARBEDB_RLS_EXAMPLES", "60"))


def test_database_agrees_with_the_model_on_generated_worlds(arbedb_dsn):
    count = []
    run(arbedb_dsn, examples=EXAMPLES, seed_value=20261129, on_example=lambda: count.append(1))
    assert len(count) == EXAMPLES


def test_a_broken_policy_is_caught_and_reported_readably(arbedb_dsn):
    """The twin: the same property on a database whose threads policy lets every
    authenticated caller read every thread must fail, naming caller and table."""
    import psycopg

    with psycopg.connect(arbedb_dsn) as conn:
        conn.execute("ALTER POLICY threads_select ON public.threads USING (true)")
    with pytest.raises(Disagreement, match=r"SELECT threads: database shows .* model says"):
        run(arbedb_dsn, examples=EXAMPLES, seed_value=20261129, shrink=False)
