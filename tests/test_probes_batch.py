"""testing/probes.py: a batch of probes, each run as its caller and undone, judged in
the order queued; a probe queued twice in one batch runs once."""

from __future__ import annotations

from arbedb.testing.probes import Probes, install

# nextval() is not undone by a rollback: it counts how often a probe really ran.
COUNT = "SELECT nextval('pg_temp.probe_runs')"


def test_a_probe_queued_twice_runs_once_and_is_judged_twice_in_order(arbedb_conn):
    seen = []
    with arbedb_conn.transaction(force_rollback=True):
        install(arbedb_conn)
        arbedb_conn.execute("CREATE SEQUENCE pg_temp.probe_runs")
        arbedb_conn.execute("GRANT USAGE ON SEQUENCE pg_temp.probe_runs TO service_role")
        with Probes(arbedb_conn) as probes:
            for n, role in enumerate(("service_role", "service_role", "anon", "service_role")):
                probes.add(role, {"role": role}, COUNT, returns_value=True, then=lambda o, n=n: seen.append((n, o.value or o.error_code)))
            probes.add("anon", {"role": "anon"}, "SELECT count(*) FROM public.threads",
                       then=lambda o: seen.append(("refused", o.error_code)))
        runs = arbedb_conn.execute("SELECT last_value FROM pg_temp.probe_runs").fetchone()[0]
    # anon may not use the sequence: its probe is another one, run and refused; the three
    # identical service_role probes ran once and answered all three.
    assert runs == 1
    assert seen == [(0, "1"), (1, "1"), (2, "42501"), (3, "1"), ("refused", "42501")]


def test_a_probe_queued_again_after_a_run_runs_again(arbedb_conn):
    """A run ends the batch: what is queued after it may see another state."""
    values = []
    with arbedb_conn.transaction(force_rollback=True):
        install(arbedb_conn)
        arbedb_conn.execute("CREATE SEQUENCE pg_temp.probe_runs")
        arbedb_conn.execute("GRANT USAGE ON SEQUENCE pg_temp.probe_runs TO service_role")
        with Probes(arbedb_conn) as probes:
            probes.add("service_role", {"role": "service_role"}, COUNT, returns_value=True,
                       then=lambda o: values.append(o.value))
            probes.run()
            probes.add("service_role", {"role": "service_role"}, COUNT, returns_value=True,
                       then=lambda o: values.append(o.value))
    assert values == ["1", "2"]
