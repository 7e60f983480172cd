"""The real Supabase CLI, pinned, for tests: ``supabase db push --db-url`` needs no Docker.

Installed once with npm (the binary ships inside the npm package) into a cache
outside the repository: ``$ARBEDB_CACHE`` or ``~/.cache/arbedb``, one folder per
version. Where npm is missing the calling test skips and says so.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from arbedb.verify.advisors import db_url  # TLS off for a local test server, as verify does

VERSION = "2.117.0"  # .ci/run pins the same


def cache_dir() -> Path:
    return Path(os.environ.get("ARBEDB_CACHE") or Path.home() / ".cache" / "arbedb") / f"supabase-cli-{VERSION}"


def supabase_cli() -> Path:
    """The `supabase` executable, installed on first use; skips the test where npm is missing."""
    folder = cache_dir()
    exe = folder / "node_modules" / ".bin" / "supabase"
    if exe.is_file():
        return exe
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip(f"npm is not installed: cannot install the Supabase CLI {VERSION} (`npm i -E supabase@{VERSION}`)")
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:  # parallel sessions install once
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not exe.is_file():
            proc = subprocess.run([npm, "i", "-E", "--no-audit", "--no-fund", f"supabase@{VERSION}"],
                                  cwd=folder, capture_output=True, text=True, timeout=600)
            if proc.returncode != 0 or not exe.is_file():
                raise RuntimeError(f"npm i -E supabase@{VERSION} failed in {folder}: {proc.stderr.strip()[-500:]}")
    return exe


def supabase_db_push(dsn: str, folder: Path) -> list[str]:
    """``supabase db push --db-url`` of the migrations in ``folder`` (a ``…/supabase/migrations``);
    returns the file names the CLI applied, in order."""
    folder = Path(folder)
    before = _pushed(dsn)
    proc = push(dsn, folder)
    if proc.returncode != 0:
        raise AssertionError(f"supabase db push failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return [p.name for p in sorted(folder.glob("*.sql")) if p.name.split("_", 1)[0] in set(_pushed(dsn)) - before]


def push(dsn: str, folder: Path) -> subprocess.CompletedProcess:
    """Run the CLI; the project directory is the folder's grandparent (``<workdir>/supabase/migrations``)."""
    folder = Path(folder)
    if folder.parent.name != "supabase" or folder.name != "migrations":
        raise ValueError(f"{folder}: the Supabase CLI reads <workdir>/supabase/migrations")
    return subprocess.run(
        [str(supabase_cli()), "db", "push", "--db-url", db_url(dsn), "--workdir", str(folder.parent.parent),
         "--yes"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "DO_NOT_TRACK": "1"})


def _pushed(dsn: str) -> set[str]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        if conn.execute("SELECT to_regclass('supabase_migrations.schema_migrations')").fetchone()[0] is None:
            return set()
        return {r[0] for r in conn.execute("SELECT version FROM supabase_migrations.schema_migrations")}
