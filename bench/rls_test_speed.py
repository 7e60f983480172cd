"""`arbedb rls-test` from two checkouts of the tool, side by side: wall and the client
process's CPU (resource.getrusage of the child), runs interleaved (A, B, A, B, ...).

    .venv/bin/python bench/rls_test_speed.py --before /path/to/old/checkout --rounds 2 -- --examples 200 --seed 0
    .venv/bin/python bench/rls_test_speed.py --before /path/to/old/checkout --rounds 1 --no-database -- --mutate

Each property run gets a fresh clone of a freshly migrated database (made once with this
checkout's `arbedb apply`) on --admin-dsn's server, dropped afterwards; `--no-database`
passes no --dsn (--mutate then starts its own throwaway server, as it does by default).
The load average is printed before and after: on a shared machine trust the ratio.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def _uptime() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _psql(admin: str, sql: str) -> None:
    subprocess.run(["psql", admin, "-qAtc", sql], check=True, capture_output=True)


def _dsn(admin: str, db: str) -> str:
    return admin.rsplit("/", 1)[0] + "/" + db


def _run(checkout: Path, args: list[str], dsn: str | None) -> tuple[float, float, int]:
    env = {**os.environ, "PYTHONPATH": str(checkout / "tooling")}  # its own arbedb, not the installed one
    cmd = [sys.executable, "-m", "arbedb.cli", "rls-test", *args] + (["--dsn", dsn] if dsn else [])
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=checkout, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode:
        print(f"  exit {proc.returncode}: {(proc.stderr or proc.stdout).strip()[:300]}")
    return wall, cpu, proc.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="a checkout of the tool as it was")
    parser.add_argument("--after", type=Path, default=HERE, help="a checkout of the tool as it is (default: this one)")
    parser.add_argument("--admin-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--no-database", action="store_true", help="pass no --dsn (for --mutate)")
    parser.add_argument("args", nargs="*", help="arguments of `arbedb rls-test`, after --")
    opts = parser.parse_args()
    template = f"rls_speed_bench_{os.getpid()}"
    if not opts.no_database:
        _psql(opts.admin_dsn, f"CREATE DATABASE {template}")
        subprocess.run([sys.executable, "-m", "arbedb.cli", "apply", "--dsn", _dsn(opts.admin_dsn, template)],
                       cwd=opts.after, check=True, capture_output=True,
                       env={**os.environ, "PYTHONPATH": str(opts.after / "tooling")})
    results = {"before": [], "after": []}
    print(f"load average {_uptime()}; rls-test {' '.join(opts.args)}")
    try:
        for n in range(opts.rounds):
            for label in ("before", "after"):
                db = f"{template}_{label}_{n}"
                if not opts.no_database:
                    _psql(opts.admin_dsn, f"CREATE DATABASE {db} TEMPLATE {template}")
                try:
                    wall, cpu, code = _run(getattr(opts, label), opts.args,
                                           None if opts.no_database else _dsn(opts.admin_dsn, db))
                finally:
                    if not opts.no_database:
                        _psql(opts.admin_dsn, f"DROP DATABASE {db}")
                results[label].append((wall, cpu))
                print(f"  round {n + 1} {label:6}: {wall:7.1f} s wall, {cpu:6.1f} s client CPU, exit {code}  "
                      f"(load {_uptime()})", flush=True)
    finally:
        if not opts.no_database:
            _psql(opts.admin_dsn, f"DROP DATABASE IF EXISTS {template}")
    for label, runs in results.items():
        if runs:
            print(f"{label:6}: wall {min(w for w, _ in runs):.1f}-{max(w for w, _ in runs):.1f} s, "
                  f"client CPU {min(c for _, c in runs):.1f}-{max(c for _, c in runs):.1f} s")
    print(f"load average {_uptime()}")


if __name__ == "__main__":
    main()
