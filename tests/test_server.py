"""The embedded server: free port, logical WAL, never as root, and the CLI around it."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from click.testing import CliRunner

from arbedb.cli import main
from arbedb.errors import ArbedbError
from arbedb.server import LocalServer, find_binaries
from revisions import HEAD


def _postmaster_uid(server: LocalServer) -> int:
    pid = int((server.data / "postmaster.pid").read_text().split()[0])
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError("no Uid line")


@pytest.fixture
def server(tmp_path):
    srv = LocalServer(tmp_path / "srv", ephemeral=True)
    yield srv
    srv.stop()


def test_start_is_idempotent_and_serves_logical_wal_off_5432(server):
    url = server.start()
    assert server.port != 5432
    assert server.start() == url
    with psycopg.connect(url) as conn:
        assert conn.execute("SHOW wal_level").fetchone()[0] == "logical"
        assert conn.execute("SHOW port").fetchone()[0] == str(server.port)
    if os.geteuid() == 0:
        assert _postmaster_uid(server) != 0, "postgres must not run as root"
    assert server.stop() is True
    assert not server.is_running()
    assert server.stop() is False


def test_restart_keeps_data(server):
    url = server.start()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (x int)")
    server.stop()
    with psycopg.connect(server.start()) as conn:
        assert conn.execute("SELECT to_regclass('kept') IS NOT NULL").fetchone()[0]


def test_restart_keeps_the_port_while_it_is_free(server):
    """A saved URL (DATABASE_URL, a GUI client) keeps working across `db stop` / `db start`."""
    import socket

    first = server.start()
    server.stop()
    assert server.start() == first
    port = server.port
    server.stop()
    with socket.socket() as squatter:  # taken by something else: another port, not a failure
        squatter.bind(("127.0.0.1", port))
        squatter.listen(1)
        assert server.start() != first and server.port != port


def test_binary_choice(monkeypatch):
    monkeypatch.delenv("ARBEDB_PG_BINDIR", raising=False)
    assert find_binaries("16").major == 16
    assert find_binaries("bundled").origin == "bundled"
    with pytest.raises(ArbedbError, match="use auto, system, bundled, 16 or 18"):
        find_binaries("oracle")


def test_cli_db_lifecycle_and_up(project_copy, monkeypatch):
    monkeypatch.chdir(project_copy.root)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    runner = CliRunner()
    try:
        up = runner.invoke(main, ["up"])
        assert up.exit_code == 0, up.output
        assert f"upgrade {HEAD}" in up.output and "PostgreSQL" in up.output and "connect: psql" in up.output
        url = runner.invoke(main, ["db", "url"])
        assert url.exit_code == 0 and url.output.startswith("postgresql://postgres@127.0.0.1:")
        assert "binaries" in url.stderr
        again = runner.invoke(main, ["up"])
        assert "nothing to do" in again.output
        rls = runner.invoke(main, ["rls-test", "--examples", "2"])  # on the project's own server
        assert rls.exit_code == 0, rls.output
        assert "database: local server" in rls.output and "2 worlds, database and model agree" in rls.output
    finally:
        stop = runner.invoke(main, ["db", "stop"])
    assert stop.output.strip() == "stopped"
    assert runner.invoke(main, ["db", "url"]).exit_code == 1


def test_cli_errors_are_one_line(tmp_path, monkeypatch, project_copy):
    runner = CliRunner()
    monkeypatch.chdir(tmp_path.parent)  # no pyproject with [tool.arbedb] above
    outside = runner.invoke(main, ["status", "--dsn", "postgresql://x@127.0.0.1:1/x"])
    assert outside.exit_code == 1
    monkeypatch.chdir(project_copy.root)
    bad = runner.invoke(main, ["apply", "--dsn", "postgresql://nobody@127.0.0.1:1/nowhere"])
    assert bad.exit_code == 1
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("arbedb: error: cannot") and "--dsn" in lines[0]


def test_replication_and_electric_logins_need_a_password(arbedb_cluster):
    """A trusted REPLICATION login could decode the whole WAL (every table, every
    database): physical replication and Electric's role must authenticate. (On the
    session's server: its pg_hba is the one LocalServer writes.)"""
    if arbedb_cluster._server is None:
        pytest.skip("ARBEDB_TEST_DSN names a server whose pg_hba is not ours")
    url = arbedb_cluster.admin_dsn
    plain = f"plain_login_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as conn:
        created = conn.execute("SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'electric')").fetchone()[0]
        if created:
            conn.execute("CREATE ROLE electric")
        conn.execute("ALTER ROLE electric LOGIN REPLICATION PASSWORD 'el-pw'")
        conn.execute(f"CREATE ROLE {plain} LOGIN")
    try:
        as_electric = make_conninfo(url, user="electric")
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(as_electric).close()
        for kind in ("database", "true"):  # a logical walsender, a physical one (pg_basebackup's)
            with pytest.raises(psycopg.OperationalError, match="password"):
                psycopg.connect(as_electric, replication=kind).close()
            with psycopg.connect(as_electric, password="el-pw", replication=kind, autocommit=True) as conn:
                assert conn.pgconn.status == psycopg.pq.ConnStatus.OK
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(url, replication="true").close()  # physical: even the trusted superuser
        with psycopg.connect(as_electric, password="el-pw") as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("electric",)
        # Everything else stays as convenient as before: the tool's own login and other roles.
        with psycopg.connect(make_conninfo(url, user=plain)) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (plain,)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP ROLE {plain}")
            conn.execute("DROP ROLE electric" if created else "ALTER ROLE electric PASSWORD NULL")
