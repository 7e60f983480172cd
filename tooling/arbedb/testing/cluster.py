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
from psycopg.conninfo import conninfo_to_dict, make_conninfo

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

    def _janitor(self, dbname: str, **kwargs):
        from pytest_postgresql.janitor import DatabaseJanitor

        info = conninfo_to_dict(self.admin_dsn)
        return DatabaseJanitor(
            user=info.get("user", "postgres"), host=info.get("host", "127.0.0.1"),
            port=info.get("port", 5432), password=info.get("password"), dbname=dbname,
            maintenance_dbname=info.get("dbname", "postgres"), **kwargs,
        )

    @contextmanager
    def database(self, *, template: str | None = None):
        """A new database (empty, or a clone of ``template``), dropped afterwards; yields its DSN."""
        name = _unique("arbedb_t")
        janitor = self._janitor(name, template_dbname=template)
        janitor.init()
        try:
            yield self.dsn_for(name)
        finally:
            janitor.drop()

    def create_template(self, project: Project) -> str:
        """A database migrated to head and marked as a template; returns its name."""
        from ..commands import apply

        name = _unique("arbedb_tpl")
        self._janitor(name, as_template=True).init()
        apply(project, self.dsn_for(name))
        return name

    def drop_database(self, name: str) -> None:
        self._janitor(name, as_template=True).drop()

    def major(self) -> int:
        with psycopg.connect(self.admin_dsn) as conn:
            return conn.info.server_version // 10000

    def close(self) -> None:
        if self._server is not None:
            home = self._server.home
            self._server.stop()
            shutil.rmtree(home, ignore_errors=True)
