"""Shared test helpers. Database fixtures come from the arbedb pytest plugin."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from arbedb.engine import catalog
from arbedb.config import find_project
from arbedb.permissions import load_permissions

ROOT = Path(__file__).resolve().parents[1]
# The repository's own permission declarations (policies/permissions.toml).
PERMS = load_permissions(find_project(ROOT))
# Tests of arbedb's own tooling that the server's major version cannot change (files it writes
# and parses, the exports and the real `supabase db push` of them, lint, the CLI's messages,
# import guards, pure Python): CI runs them once, on the machine's PostgreSQL, and its bundled
# PostgreSQL 18 run leaves them out (`-m "not once"`, .ci/run). Whole modules here; single tests
# elsewhere carry `@pytest.mark.once`. Nothing that checks what a caller may see or do (RLS,
# triggers, credentials, concurrency, Electric, verify, the engine's locking) is marked: the
# security tests run on both servers.
ONCE_MODULES = {
    "test_sql_corpus", "test_export", "test_export_pgtap", "test_lint", "test_lint_repo", "test_lint_rules",
    "test_cli_errors", "test_speed", "test_install", "test_rls_model", "test_machine_results",
    "test_electric_shapes", "test_plugin_example", "test_bench_smoke", "test_verbatim",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.module.__name__ in ONCE_MODULES:
            item.add_marker(pytest.mark.once)


PROJECT_PARTS = ("pyproject.toml", "alembic.ini", "migrations", "policies", "triggers", "electric", ".sqlfluff",
                 ".squawk.toml", "pgrls.toml")


# For a module that defines `world_db` — (dsn, world) committed once per module:
# its world, and a connection to that database for each test.
@pytest.fixture
def world(world_db):
    return world_db[1]


@pytest.fixture
def conn(world_db):
    with psycopg.connect(world_db[0]) as c:
        yield c


@pytest.fixture
def project_copy(tmp_path):
    """A writable copy of this project (SQL and config only) to break or extend."""
    for part in PROJECT_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy(src, tmp_path / part)
    return find_project(tmp_path)


@pytest.fixture
def empty_dsn(arbedb_cluster):
    with arbedb_cluster.database() as dsn:
        yield dsn


def snapshot(dsn: str) -> dict:
    with psycopg.connect(dsn) as conn:
        return catalog.snapshot(conn)


def assert_same_catalog(before: dict, after: dict) -> None:
    differences = catalog.diff(before, after)
    assert not differences, "catalog differs:\n" + "\n".join(differences[:40])


def plan_nodes(node: dict):
    """Every node of an EXPLAIN (FORMAT JSON) plan, the given one first."""
    yield node
    for child in node.get("Plans", ()):
        yield from plan_nodes(child)
