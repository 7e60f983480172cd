"""A Supabase-like PostgreSQL: the migrating role is `postgres`, and it is no superuser.

On Supabase the role a user migrates with has CREATEROLE, CREATEDB, REPLICATION
and BYPASSRLS but not SUPERUSER (that is `supabase_admin`), and the API roles,
the `auth` schema and the default privileges on `public` exist before the
project's first migration. This module builds exactly that, on a cluster of its
own: roles are cluster-wide, so only a fresh cluster can have them created
first and Supabase's way, and only there can the migrating role be called
`postgres` (the embedded server's bootstrap superuser is renamed out of the way).

Fixtures (load with ``pytest_plugins = ["supabase_fixture"]`` in a test module):
- ``supabase_cluster``: the cluster, per session.
- ``supabase_dsn``: a fresh Supabase-like database, nothing of ours applied; the DSN logs in as `postgres`.
- ``supabase_applied_dsn``: the same after ``arbedb apply`` as `postgres` (cloned from a template).

``supabase_db_push(dsn, folder)`` applies a Supabase CLI migration folder as
``supabase db push`` does.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from arbedb.server import LocalServer
from arbedb.engine.sqlexec import statements

SQL_DIR = Path(__file__).parent / "supabase"
MIGRATING_ROLE = "postgres"
SUPERUSER = "supabase_admin"
_names = itertools.count()


class SupabaseCluster:
    def __init__(self) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="arbedb-supabase-"))
        self.server = LocalServer(self.home, ephemeral=True)
        url = self.server.start()
        self.major = self.server.binaries.major
        self._url = url
        with psycopg.connect(url, autocommit=True) as conn:  # as the bootstrap superuser, once
            conn.execute(f"CREATE ROLE {SUPERUSER} LOGIN SUPERUSER CREATEDB CREATEROLE REPLICATION BYPASSRLS")
        with self.connect(SUPERUSER, "postgres") as conn:
            conn.execute("ALTER ROLE postgres RENAME TO bootstrap_superuser")
            # Supabase creates postgres as a superuser, runs its init scripts as it, then demotes it.
            conn.execute(f"CREATE ROLE {MIGRATING_ROLE} LOGIN SUPERUSER")
            conn.execute("CREATE DATABASE supabase_template")
        with self.connect(MIGRATING_ROLE, "supabase_template") as conn:
            conn.execute((SQL_DIR / "10_platform.sql").read_text())
        with self.connect(SUPERUSER, "supabase_template") as conn:
            conn.execute((SQL_DIR / "20_demote.sql").read_text())
        self.template = "supabase_template"

    def dsn(self, dbname: str, user: str = MIGRATING_ROLE) -> str:
        return make_conninfo(self._url, user=user, dbname=dbname)

    @contextmanager
    def connect(self, user: str, dbname: str):
        with psycopg.connect(self.dsn(dbname, user), autocommit=True) as conn:
            yield conn

    @contextmanager
    def database(self, template: str | None = None):
        """A new project database (owned by supabase_admin, like Supabase's `postgres`); yields a DSN as postgres."""
        name = f"supa_{os.getpid()}_{next(_names)}"
        with self.connect(SUPERUSER, "postgres") as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {template or self.template}")
            # Database privileges are not copied from a template.
            conn.execute(f"GRANT ALL ON DATABASE {name} TO {MIGRATING_ROLE}")
        try:
            yield self.dsn(name)
        finally:
            with self.connect(SUPERUSER, "postgres") as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def make_template(self, name: str, build) -> str:
        """A template database: a clone of the platform template after ``build(dsn)``."""
        with self.connect(SUPERUSER, "postgres") as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {self.template}")
            conn.execute(f"GRANT ALL ON DATABASE {name} TO {MIGRATING_ROLE}")
        build(self.dsn(name))
        return name

    def close(self) -> None:
        self.server.stop()
        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture(scope="session")
def supabase_cluster():
    cluster = SupabaseCluster()
    yield cluster
    cluster.close()


@pytest.fixture
def supabase_dsn(supabase_cluster):
    with supabase_cluster.database() as dsn:
        yield dsn


@pytest.fixture(scope="session")
def supabase_applied_template(supabase_cluster, arbedb_project):
    from arbedb import commands

    return supabase_cluster.make_template("supabase_applied", lambda dsn: commands.apply(arbedb_project, dsn))


@pytest.fixture
def supabase_applied_dsn(supabase_cluster, supabase_applied_template):
    with supabase_cluster.database(template=supabase_applied_template) as dsn:
        yield dsn


@pytest.fixture
def supabase_push():
    """``supabase_db_push`` (below), for test modules that load this one as a plugin."""
    return supabase_db_push


# -- supabase db push --------------------------------------------------------------------------
# What the Supabase CLI does (supabase/cli pkg/migration): create its history
# table, then for each local file whose version is not recorded, oldest first,
# send the file's statements one by one (extended protocol, no parameters) and
# the history row in one batch, which runs as one implicit transaction.

MIGRATION_FILE = re.compile(r"^([0-9]+)_(.*)\.sql$")
HISTORY_DDL = (
    "SET lock_timeout = '4s'",
    "CREATE SCHEMA IF NOT EXISTS supabase_migrations",
    "CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations (version text NOT NULL PRIMARY KEY)",
    "ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS statements text[]",
    "ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS name text",
)
INSERT_VERSION = "INSERT INTO supabase_migrations.schema_migrations(version, name, statements) VALUES(%s, %s, %s)"


def _batch(conn, sqls, history: tuple | None = None) -> None:
    with conn.pipeline():
        for sql in sqls:
            conn.execute(sql, prepare=False)
        if history is not None:
            conn.execute(INSERT_VERSION, history, prepare=False)


def supabase_db_push(dsn: str, folder: Path) -> list[str]:
    """Apply the pending migrations of ``folder``; returns the file names applied."""
    applied = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        _batch(conn, HISTORY_DDL)
        done = {r[0] for r in conn.execute("SELECT version FROM supabase_migrations.schema_migrations")}
        for path in sorted(folder.glob("*.sql")):
            match = MIGRATION_FILE.match(path.name)
            if not match or match.group(1) in done:
                continue
            stmts = [text.strip().rstrip(";").strip() for _, text in statements(path.read_text())]
            stmts = [s for s in stmts if s]
            _batch(conn, stmts, (match.group(1), match.group(2), stmts))
            applied.append(path.name)
    return applied
