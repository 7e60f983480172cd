"""pytest plugin (entry point ``pytest11: arbedb``): migrated databases for RLS tests.

Fixtures:
- ``arbedb_project``: the arbedb project the tests run in (found from pytest's rootdir).
- ``arbedb_cluster``: the server (``ARBEDB_TEST_DSN`` or an embedded one), per session.
- ``arbedb_template``: a database migrated to head once per session, marked as a template.
- ``arbedb_dsn``: a fresh clone of the template for one test; dropped after it.
- ``arbedb_conn``: a psycopg connection to that clone.
"""

from __future__ import annotations

import pytest

from ..config import find_project
from .cluster import TestCluster


@pytest.fixture(scope="session")
def arbedb_project(pytestconfig):
    return find_project(pytestconfig.rootpath)


@pytest.fixture(scope="session")
def arbedb_cluster():
    cluster = TestCluster()
    yield cluster
    cluster.close()


@pytest.fixture(scope="session")
def arbedb_template(arbedb_cluster, arbedb_project):
    name = arbedb_cluster.create_template(arbedb_project)
    yield name
    arbedb_cluster.drop_database(name)


@pytest.fixture
def arbedb_dsn(arbedb_cluster, arbedb_template):
    with arbedb_cluster.database(template=arbedb_template) as dsn:
        yield dsn


@pytest.fixture
def arbedb_conn(arbedb_dsn):
    import psycopg

    with psycopg.connect(arbedb_dsn) as conn:
        yield conn


def pytest_report_header(config):
    import os

    return f"arbedb: database from {'ARBEDB_TEST_DSN' if os.environ.get('ARBEDB_TEST_DSN') else 'an embedded server'}"
