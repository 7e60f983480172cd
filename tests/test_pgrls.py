"""pgrls (a static RLS analyzer) on the applied schema: zero findings with the
project's pgrls.toml, and the same gate fails on a schema broken on purpose."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from conftest import ROOT

PGRLS = shutil.which("pgrls", path=str(Path(sys.executable).parent)) or shutil.which("pgrls")
pytestmark = pytest.mark.skipif(PGRLS is None, reason="pgrls is not installed (it is in the test extra)")


def pgrls(*args: str, dsn: str) -> subprocess.CompletedProcess:
    return subprocess.run([PGRLS, *args, "--database-url", dsn, "--config", str(ROOT / "pgrls.toml")],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("command", [("lint",), ("verify", "--mode", "cross-tenant"), ("verify", "--mode", "write"),
                                     ("verify", "--mode", "anon")])
def test_pgrls_passes_on_the_project(arbedb_dsn, command):
    result = pgrls(*command, dsn=arbedb_dsn)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ERROR" not in result.stdout and "LEAK" not in result.stdout.replace("0 leaking", "")


def test_pgrls_fails_on_a_policy_opened_to_everyone(arbedb_dsn):
    with psycopg.connect(arbedb_dsn) as conn:
        conn.execute("ALTER POLICY threads_select ON public.threads TO PUBLIC USING (true)")
    anon = pgrls("verify", "--mode", "anon", dsn=arbedb_dsn)
    lint = pgrls("lint", dsn=arbedb_dsn)
    assert anon.returncode != 0 and "LEAK" in anon.stdout, anon.stdout
    assert lint.returncode != 0, lint.stdout


def test_pgrls_reports_a_private_table_without_rls(arbedb_dsn):
    """The private schema is in pgrls's scope: its tables without RLS are SEC001 errors."""
    with psycopg.connect(arbedb_dsn) as conn:
        conn.execute("ALTER TABLE arbe_private.secret_values DISABLE ROW LEVEL SECURITY")
    lint = pgrls("lint", dsn=arbedb_dsn)
    assert lint.returncode != 0 and "SEC001" in lint.stdout and "arbe_private.secret_values" in lint.stdout, lint.stdout
