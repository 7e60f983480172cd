"""A Supabase database built the way Supabase builds one, on a cluster of its own.

The SQL under tests/supabase/ is written from Supabase's own sources (each file
names them; docs/supabase.md lists every fact and what cannot be reproduced).
The order is the image's (supabase/postgres migrations/db/migrate.sh):

1. the cluster's bootstrap superuser is ``supabase_admin`` (the image runs
   ``initdb --username=supabase_admin``): the embedded server's is renamed;
2. ``postgres`` is created a superuser and owns the database; the init scripts
   run as it (10_init_scripts.sql);
3. the migrations run as ``supabase_admin`` and demote ``postgres`` (20_migrations.sql);
4. Supabase Auth migrates ``auth`` as ``supabase_auth_admin`` (30_gotrue.sql);
5. the other services' roles, as ``supabase_admin`` (40_services.sql).

Roles are cluster-wide, hence the cluster of its own; the database is built once
per session as a template and cloned per test.

Fixtures (``pytest_plugins = ["supabase_fixture"]``):
- ``supabase_cluster``: the cluster, per session.
- ``supabase_dsn``: a fresh Supabase database, nothing of ours applied; logs in as `postgres`.
- ``supabase_applied_dsn``: the same after ``arbedb apply`` as `postgres` (cloned from a template).
- ``supabase_push``: ``supabase_db_push(dsn, folder)``, the real Supabase CLI's
  ``supabase db push`` (tests/supabase_cli.py; skips where npm is missing).
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from supabase_cli import supabase_db_push

from arbedb.server import LocalServer

SQL_DIR = Path(__file__).parent / "supabase"
MIGRATING_ROLE = "postgres"
SUPERUSER = "supabase_admin"
# (role that runs it, file): the order of migrate.sh, then the services' own migrations.
STEPS = (
    (MIGRATING_ROLE, "10_init_scripts.sql"),
    (SUPERUSER, "20_migrations.sql"),
    (SUPERUSER, "25_vault_stand_in.sql"),  # where 20_migrations.sql skips supabase_vault
    ("supabase_auth_admin", "30_gotrue.sql"),
    (SUPERUSER, "40_services.sql"),
)
# Database privileges are per database and not copied from a template: post-setup
# grants the dashboard everything, Realtime may create its schema objects.
DATABASE_GRANTS = ("GRANT ALL ON DATABASE {db} TO dashboard_user", "GRANT CREATE ON DATABASE {db} TO supabase_realtime_admin")
_names = itertools.count()

__all__ = ["SupabaseCluster", "supabase_db_push"]


class SupabaseCluster:
    def __init__(self) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="arbedb-supabase-"))
        self.server = LocalServer(self.home, ephemeral=True)
        self._url = self.server.start()
        self.major = self.server.binaries.major
        # 1. supabase_admin is the bootstrap superuser: rename initdb's (a role cannot rename itself).
        with self.connect("postgres", "postgres") as conn:
            conn.execute("CREATE ROLE arbedb_renamer LOGIN SUPERUSER")
        with self.connect("arbedb_renamer", "postgres") as conn:
            conn.execute(f"ALTER ROLE postgres RENAME TO {SUPERUSER}")
        with self.connect(SUPERUSER, "postgres") as conn:
            conn.execute("DROP ROLE arbedb_renamer")
            # 2. migrate.sh: postgres, a superuser for now, owns the database.
            conn.execute(f"CREATE ROLE {MIGRATING_ROLE} LOGIN SUPERUSER")
            conn.execute(f"ALTER DATABASE postgres OWNER TO {MIGRATING_ROLE}")
        self.template = self._create("supabase_template", None, grants=())
        for role, name in STEPS:  # 2-5
            with self.connect(role, self.template) as conn:
                conn.execute((SQL_DIR / name).read_text())

    def dsn(self, dbname: str, user: str = MIGRATING_ROLE) -> str:
        return make_conninfo(self._url, user=user, dbname=dbname)

    @contextmanager
    def connect(self, user: str, dbname: str):
        with psycopg.connect(self.dsn(dbname, user), autocommit=True) as conn:
            yield conn

    def _create(self, name: str, template: str | None, grants=DATABASE_GRANTS) -> str:
        with self.connect(SUPERUSER, "postgres") as conn:
            conn.execute(f"CREATE DATABASE {name} OWNER {MIGRATING_ROLE} TEMPLATE {template or 'template1'}")
            for grant in grants:
                conn.execute(grant.format(db=name))
        return name

    @contextmanager
    def database(self, template: str | None = None):
        """A new project database (a clone of the Supabase template, owned by postgres); yields a DSN as postgres."""
        name = self._create(f"supa_{os.getpid()}_{next(_names)}", template or self.template)
        try:
            yield self.dsn(name)
        finally:
            with self.connect(SUPERUSER, "postgres") as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def make_template(self, name: str, build) -> str:
        """A template database: a clone of the Supabase template after ``build(dsn)``."""
        self._create(name, self.template)
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
    """``supabase_db_push(dsn, folder)``: the real ``supabase db push`` (skips where npm is missing)."""
    return supabase_db_push
