"""Databases for tests: a cluster, a migrated template, and cheap clones of it.

The cluster is the server named by ``ARBEDB_TEST_DSN`` (any role that may
CREATE DATABASE), else an ephemeral embedded server started for the session.
Migrating once and cloning per test (``CREATE DATABASE … TEMPLATE``) keeps each
test isolated at the cost of a file copy instead of a full apply.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from ..config import Project
from ..server import LocalServer

_counter = itertools.count()


def _unique(prefix: str) -> str:
    return f"{prefix}_{os.getpid()}_{next(_counter)}"


class TestCluster:
    """The PostgreSQL server a test session uses."""

    __test__ = False  # not a pytest test class

    def __init__(self, dsn: str | None = None):
        self._server: LocalServer | None = None
        dsn = dsn or os.environ.get("ARBEDB_TEST_DSN")
        if dsn is None:
            home = Path(tempfile.mkdtemp(prefix="arbedb-test-"))
            self._server = LocalServer(home, ephemeral=True)
            dsn = self._server.start()
        self.admin_dsn = dsn
        self.description = self._server.binaries.describe() if self._server else "ARBEDB_TEST_DSN"

    def dsn_for(self, dbname: str) -> str:
        return make_conninfo(self.admin_dsn, dbname=dbname)

    def _admin(self, sql_text, *names: str) -> None:
        """Run one CREATE/ALTER/DROP DATABASE on the cluster (outside any transaction)."""
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL(sql_text).format(*map(sql.Identifier, names)))

    @contextmanager
    def database(self, *, template: str | None = None):
        """A new database (empty, or a clone of ``template``), dropped afterwards; yields its DSN."""
        name = _unique("arbedb_t")
        if template:
            self._admin("CREATE DATABASE {} TEMPLATE {}", name, template)
        else:
            self._admin("CREATE DATABASE {}", name)
        try:
            yield self.dsn_for(name)
        finally:
            self.drop_database(name)

    def create_template(self, project: Project) -> str:
        """A database migrated to head and marked as a template; returns its name."""
        from ..commands import apply

        name = _unique("arbedb_tpl")
        self._admin("CREATE DATABASE {}", name)
        apply(project, self.dsn_for(name))
        self._admin("ALTER DATABASE {} IS_TEMPLATE true", name)
        return name

    def drop_database(self, name: str) -> None:
        self._admin("ALTER DATABASE {} IS_TEMPLATE false", name)
        self._admin("DROP DATABASE IF EXISTS {} WITH (FORCE)", name)

    def major(self) -> int:
        with psycopg.connect(self.admin_dsn) as conn:
            return conn.info.server_version // 10000

    def close(self) -> None:
        if self._server is not None:
            home = self._server.home
            self._server.stop()
            shutil.rmtree(home, ignore_errors=True)
