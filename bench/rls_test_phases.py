"""Where an `arbedb rls-test` run's time goes: per check of rls/checks.py, the wall time,
the client's CPU and the server backend's CPU (read from /proc, so the server must run
on this machine), and how often the client waited on the server.

    .venv/bin/python bench/rls_test_phases.py --dsn postgresql://…/scratch --examples 20
    .venv/bin/python bench/rls_test_phases.py --tooling /old/checkout/tooling --dsn … --examples 20

The database must be at head; everything is rolled back. Checks a checkout does not have
(or keeps in another module) are left out of the table; the totals are the whole run's.
"""

from __future__ import annotations

import argparse
import collections
import functools
import os
import sys
import time

PHASES = ("load", "check_reads", "check_private_unreadable", "sweep", "check_write", "check_secrets_sealed",
          "check_private_behind_rls", "_sweep_inserts", "_sweep_hard_deletes", "_sweep_liveness", "_sweep_kept",
          "_sweep_rejoin", "_sweep_functions")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--examples", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tooling", help="another checkout's tooling/ directory (default: the installed arbedb)")
    opts = parser.parse_args()
    if opts.tooling:
        sys.path.insert(0, opts.tooling)
    import psycopg

    from arbedb.config import find_project
    from arbedb.permissions import load_permissions
    from arbedb.rls import checks

    backend = [None]
    tick = os.sysconf("SC_CLK_TCK")

    def backend_cpu() -> float:
        if backend[0] is None:
            return 0.0
        fields = open(f"/proc/{backend[0]}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick

    connect = psycopg.connect

    def connected(*args, **kwargs):
        conn = connect(*args, **kwargs)
        backend[0] = conn.info.backend_pid
        return conn

    checks.psycopg.connect = connected
    stats = collections.defaultdict(lambda: [0, 0.0, 0.0, 0.0])

    def timed(name, f):
        @functools.wraps(f)
        def wrapper(*args, **kwargs):
            wall, cpu, server = time.perf_counter(), time.process_time(), backend_cpu()
            try:
                return f(*args, **kwargs)
            finally:
                s = stats[name]
                s[0] += 1
                s[1] += time.perf_counter() - wall
                s[2] += time.process_time() - cpu
                s[3] += backend_cpu() - server
        return wrapper

    for name in PHASES:
        if hasattr(checks, name):
            setattr(checks, name, timed(name, getattr(checks, name)))
    waits = [0]
    wait = psycopg.Connection.wait

    def counted(self, *args, **kwargs):
        waits[0] += 1
        return wait(self, *args, **kwargs)

    psycopg.Connection.wait = counted
    perms = load_permissions(find_project())
    load = open("/proc/loadavg").read().split()[:3]
    wall, cpu = time.perf_counter(), time.process_time()
    checks.run(opts.dsn, perms, examples=opts.examples, seed_value=opts.seed)
    print(f"{opts.examples} worlds: {time.perf_counter() - wall:.2f} s wall, client {time.process_time() - cpu:.2f} s "
          f"CPU, backend {backend_cpu():.2f} s CPU, {waits[0]} waits on the server "
          f"(load average {' '.join(load)} before, {' '.join(open('/proc/loadavg').read().split()[:3])} after)")
    for name, (calls, w, c, b) in sorted(stats.items(), key=lambda kv: -kv[1][1]):
        print(f"  {name:26} {calls:5} calls  {w:7.2f} s wall  client {c:6.2f} s  backend {b:6.2f} s")


if __name__ == "__main__":
    main()
