"""`arbedb verify`'s Electric checks: a clean database passes; each broken precondition is one clear line."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest

from arbedb import commands
from arbedb.server import LocalServer
from arbedb.verify import electric as electric_checks

AGENT_COLUMNS = '"id", "house_id", "name", "kind", "created_by", "created_at", "updated_at", "deleted_at"'


def _add_agent_columns(*extra: str):
    def edit(text: str) -> str:
        assert AGENT_COLUMNS in text
        return text.replace(AGENT_COLUMNS, AGENT_COLUMNS + "".join(f', "{c}"' for c in extra), 1)
    return edit


def _extra_agents_shape(where: str, *columns: str):
    def edit(text: str) -> str:
        text = _add_agent_columns(*columns)(text)
        return text + f'\n[tables.agents.shapes.probe]\nwhere = "{where}"\nparams = ["house"]\nrole = "member"\n'
    return edit


# (code, SQL that breaks the database, edit of electric/shapes.toml, the object named)
BROKEN = [
    ("ELE002", "DROP PUBLICATION electric_publication_default", None, "publication electric_publication_default"),
    ("ELE003", "ALTER PUBLICATION electric_publication_default ADD TABLES IN SCHEMA public", None,
     "publication electric_publication_default"),
    ("ELE004", "ALTER PUBLICATION electric_publication_default SET (publish = 'insert, update, delete')", None,
     "publication electric_publication_default"),
    ("ELE005", "ALTER PUBLICATION electric_publication_default DROP TABLE public.agents", None, "public.agents"),
    ("ELE006", "CREATE TABLE public.extra (id int PRIMARY KEY) WITH (fillfactor = 100); "
               "ALTER PUBLICATION electric_publication_default ADD TABLE public.extra", None, "public.extra"),
    ("ELE007", "ALTER PUBLICATION electric_publication_default DROP TABLE public.configs; "
               "ALTER PUBLICATION electric_publication_default ADD TABLE public.configs WHERE (key <> 'x')", None,
     "public.configs"),
    ("ELE008", "ALTER TABLE public.threads REPLICA IDENTITY DEFAULT", None, "public.threads"),
    ("ELE012", "REVOKE SELECT ON public.agents FROM electric", None, "public.agents"),
    ("ELE013", "GRANT UPDATE ON public.threads TO electric", None, "public.threads"),
    ("ELE020", None, lambda t: t + '\n[tables.ghosts]\nrole = "member"\ncolumns = ["id", "house_id", "deleted_at"]\n',
     "public.ghosts"),
    ("ELE021", None, _add_agent_columns("nickname"), "public.agents.nickname"),
    ("ELE022", "ALTER TABLE public.agents ADD COLUMN name_lower text GENERATED ALWAYS AS (lower(name)) STORED",
     _add_agent_columns("name_lower"), "public.agents.name_lower"),
    ("ELE023", "ALTER TABLE public.agents ADD COLUMN name_lower text GENERATED ALWAYS AS (lower(name)) STORED",
     _extra_agents_shape("house_id = $1 AND name_lower = 'x' AND deleted_at IS NULL", "name_lower"),
     "public.agents.name_lower"),
    ("ELE024", "CREATE TYPE public.tier AS ENUM ('free', 'pro'); ALTER TABLE public.agents ADD COLUMN tier public.tier",
     _extra_agents_shape("house_id = $1 AND tier = 'pro' AND deleted_at IS NULL", "tier"), "public.agents.tier"),
    # An enum read only by a subquery (members.tier is no declared column of members): Electric refuses it all the same.
    ("ELE024", "CREATE TYPE public.tier AS ENUM ('free', 'pro'); ALTER TABLE public.members ADD COLUMN tier public.tier",
     lambda t: t + '\n[tables.agents.shapes.pro]\nsubquery = true\nwhere = "house_id IN (SELECT house_id FROM members '
                   'WHERE user_id = $1 AND tier = \'pro\') AND deleted_at IS NULL"\nparams = ["caller"]\n',
     "public.members.tier"),
    ("ELE025", None, lambda t: t.replace('[tables.agents]\n', '[tables.agents]\nprimary_key = ["house_id"]\n'),
     "public.agents"),
    ("ELE030", "ALTER TABLE public.api_keys ADD COLUMN key_hash bytea", None, "public.api_keys.key_hash"),
]


def test_a_clean_database_passes(arbedb_conn, arbedb_project):
    assert electric_checks.checks(arbedb_conn, arbedb_project) == []


@pytest.mark.parametrize("code, break_sql, edit_shapes, obj", BROKEN, ids=[b[0] for b in BROKEN])
def test_each_broken_precondition_is_one_clear_line(arbedb_conn, project_copy, code, break_sql, edit_shapes, obj):
    if break_sql:
        arbedb_conn.execute(break_sql)
        arbedb_conn.commit()
    if edit_shapes:
        path = project_copy.root / "electric" / "shapes.toml"
        path.write_text(edit_shapes(path.read_text()))
    findings = electric_checks.checks(arbedb_conn, project_copy)
    assert [(f.code, f.object) for f in findings] == [(code, obj)], [f.line_text() for f in findings]
    line = findings[0].line_text()
    assert "\n" not in line and obj in line and "; fix: " in line


def _role_findings(conn, project, role):
    project = dataclasses.replace(project, extra={**project.extra, "electric_role": role})
    return [(f.code, f.object, f.severity) for f in electric_checks.checks(conn, project)]


def test_missing_role_is_an_error_where_apply_could_have_made_it(arbedb_conn, arbedb_project):
    assert _role_findings(arbedb_conn, arbedb_project, "electric_nobody") == [
        ("ELE010", "role electric_nobody", "error")]


def test_role_lacking_replication_is_one_line(arbedb_conn, arbedb_project):
    role = "electric_noreplication"
    arbedb_conn.execute(f"CREATE ROLE {role} LOGIN BYPASSRLS")
    try:
        for table in ("houses", "members", "agents", "environments", "threads", "configs", "secrets", "invites",
                      "api_keys"):
            arbedb_conn.execute(f"GRANT SELECT ON public.{table} TO {role}")
        assert _role_findings(arbedb_conn, arbedb_project, role) == [("ELE011", f"role {role}", "error")]
    finally:
        arbedb_conn.rollback()  # the role was never committed


@pytest.fixture
def replica_only_server():
    """A server with wal_level = replica: logical replication impossible."""
    server = LocalServer(Path(tempfile.mkdtemp(prefix="arbedb-walreplica-")), ephemeral=True)
    try:
        with psycopg.connect(server.start(), autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET wal_level = replica")
        server.stop()
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(server.home, ignore_errors=True)


def test_wal_level_below_logical_is_one_line(replica_only_server, arbedb_project):
    commands.apply(arbedb_project, replica_only_server)
    with psycopg.connect(replica_only_server) as conn:
        assert conn.execute("SHOW wal_level").fetchone() == ("replica",)
        findings = electric_checks.checks(conn, arbedb_project)
    assert [(f.code, f.object) for f in findings] == [("ELE001", "wal_level")]
    assert "wal_level = logical" in findings[0].line_text()
