"""The migration engine: apply, re-apply, status, all-or-nothing, round trip, concurrency."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psycopg
import pytest
from conftest import assert_same_catalog, snapshot

from arbedb import commands
from arbedb.errors import ArbedbError
from arbedb.engine import direct, lock
from revisions import HEAD, NEXT, REVISIONS

HEAD_REVISIONS = REVISIONS


def _tables(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        return {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def test_apply_on_empty_database_creates_every_table(arbedb_project, empty_dsn):
    result = commands.apply(arbedb_project, empty_dsn)
    assert [s.split(":")[0] for s in result.steps] == [f"upgrade {r}" for r in HEAD_REVISIONS]
    assert {"houses", "members", "agents", "threads", "environments", "configs", "secrets", "invites",
            "api_keys"} <= _tables(empty_dsn)


def test_apply_again_changes_nothing(arbedb_project, empty_dsn):
    commands.apply(arbedb_project, empty_dsn)
    before = snapshot(empty_dsn)
    again = commands.apply(arbedb_project, empty_dsn)
    assert again.steps == [] and again.declarative == []
    assert_same_catalog(before, snapshot(empty_dsn))


def test_status_on_fresh_and_applied_database(arbedb_project, empty_dsn):
    fresh = commands.status(arbedb_project, empty_dsn)
    assert fresh.current == ()
    assert [p.split()[0] for p in fresh.pending] == HEAD_REVISIONS
    assert fresh.drift.startswith("unknown")

    commands.apply(arbedb_project, empty_dsn)
    applied = commands.status(arbedb_project, empty_dsn)
    assert applied.current == applied.heads and applied.pending == []
    assert not applied.declarative.any
    assert applied.drift.startswith("none")


def test_status_names_changed_declarative_files_and_drift(project_copy, empty_dsn):
    extra = project_copy.root / "policies" / "99_extra.sql"
    extra.write_text("CREATE OR REPLACE FUNCTION arbe.probe() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;\n")
    commands.apply(project_copy, empty_dsn)
    assert not commands.status(project_copy, empty_dsn).declarative.any

    extra.write_text("CREATE OR REPLACE FUNCTION arbe.probe() RETURNS int LANGUAGE sql AS $$ SELECT 2 $$;\n")
    (project_copy.root / "policies" / "98_new.sql").write_text("SELECT 1;\n")
    st = commands.status(project_copy, empty_dsn)
    assert st.declarative.changed == ["policies/99_extra.sql"]
    assert st.declarative.added == ["policies/98_new.sql"]

    with psycopg.connect(empty_dsn) as conn:
        conn.execute("CREATE OR REPLACE FUNCTION arbe.probe() RETURNS int LANGUAGE sql AS $$ SELECT 3 $$")
    assert commands.status(project_copy, empty_dsn).drift.startswith("the catalog changed")

    result = commands.apply(project_copy, empty_dsn)
    assert "policies/99_extra.sql" in result.declarative
    after = commands.status(project_copy, empty_dsn)
    assert not after.declarative.any and after.drift.startswith("none")


@pytest.mark.parametrize("broken_in", ["revision", "declarative"])
def test_failing_statement_leaves_database_exactly_as_before(project_copy, empty_dsn, broken_in):
    commands.apply(project_copy, empty_dsn)
    before = snapshot(empty_dsn)
    good_then_bad = (
        "ALTER TABLE public.agents ADD COLUMN note text;\n"
        "CREATE TABLE public.scratch (id int);\n"
        "SELECT 1;\n"
        "ALTER TABLE public.no_such_table ADD COLUMN x int;\n"
    )
    if broken_in == "revision":
        commands.new(project_copy, "half_broken", up_sql=good_then_bad, down_sql="SELECT 1;\n")
        where = f"migrations/versions/{NEXT}_half_broken.up.sql:4"
    else:
        (project_copy.root / "triggers" / "zz_broken.sql").write_text(good_then_bad)
        where = "triggers/zz_broken.sql:4"
    with pytest.raises(ArbedbError) as err:
        commands.apply(project_copy, empty_dsn)
    assert where in str(err.value) and "no_such_table" in str(err.value)
    assert_same_catalog(before, snapshot(empty_dsn))
    assert commands.status(project_copy, empty_dsn).current == (HEAD,)


def test_failed_first_apply_leaves_an_empty_database_empty(project_copy, empty_dsn):
    before = snapshot(empty_dsn)
    commands.new(project_copy, "broken", up_sql="SELECT no_such_function();\n", down_sql="SELECT 1;\n")
    with pytest.raises(ArbedbError, match=f"{NEXT}_broken.up.sql:1"):
        commands.apply(project_copy, empty_dsn)
    assert_same_catalog(before, snapshot(empty_dsn))
    with psycopg.connect(empty_dsn) as conn:
        assert conn.execute("SELECT to_regnamespace('arbedb')").fetchone()[0] is None


def test_round_trip_upgrade_downgrade_upgrade_gives_identical_catalog(arbedb_project, empty_dsn):
    base = snapshot(empty_dsn)
    commands.apply(arbedb_project, empty_dsn)
    head = snapshot(empty_dsn)
    down = commands.down(arbedb_project, empty_dsn, "base")
    assert [s.split(":")[0] for s in down.steps] == [f"downgrade {r}" for r in reversed(HEAD_REVISIONS)]
    # Nothing of ours is left in the schemas we own (publications are compared too).
    assert_same_catalog(base, snapshot(empty_dsn))
    commands.apply(arbedb_project, empty_dsn)
    assert_same_catalog(head, snapshot(empty_dsn))


def _apply_cli(dsn: str, cwd) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "arbedb.cli", "apply", "--dsn", dsn], cwd=cwd,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def _waiting_applies(holder) -> int:
    """Sessions of `arbedb apply` waiting on a lock (the apply lock, or the catalog row its creation needs)."""
    return holder.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
                          "AND wait_event_type = 'Lock'", (lock.APPLY_APPLICATION,)).fetchone()[0]


def _both_queue_then_run(watcher, dsn, cwd, release) -> list[str]:
    """``watcher``: an autocommit connection (a transaction would see one snapshot of the activity)."""
    procs = [_apply_cli(dsn, cwd) for _ in range(2)]
    deadline = time.time() + 60
    while time.time() < deadline and _waiting_applies(watcher) < 2:
        time.sleep(0.05)
    assert _waiting_applies(watcher) == 2, "both applies should be waiting on the apply lock"
    release()
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    return outputs


def test_two_concurrent_applies_both_succeed_and_each_revision_runs_once(arbedb_project, empty_dsn):
    with psycopg.connect(empty_dsn, autocommit=True) as setup:
        setup.execute(lock.prelude_sql(arbedb_project))  # the lock table exists (an earlier apply)
    with psycopg.connect(empty_dsn) as holder, psycopg.connect(empty_dsn, autocommit=True) as watcher:
        holder.execute(f"LOCK TABLE {lock.LOCK_TABLE} IN {lock.LOCK_MODE} MODE")  # as an apply holds it
        outputs = _both_queue_then_run(watcher, empty_dsn, arbedb_project.root, holder.rollback)
    for rev in HEAD_REVISIONS:
        assert sum(out.count(f"upgrade {rev}:") for out in outputs) == 1, outputs
    assert sum("nothing to do" in out for out in outputs) == 1


def test_two_first_applies_on_a_fresh_database_serialise(arbedb_project, empty_dsn):
    # A first apply still inside its transaction, having created the lock's schema and table: both
    # others wait on the catalog, then one finds what the first committed and retries, and queues.
    with psycopg.connect(empty_dsn, application_name=lock.APPLY_APPLICATION) as first:
        first.execute(lock.prelude_sql(arbedb_project))
        with psycopg.connect(empty_dsn, autocommit=True) as watcher:
            outputs = _both_queue_then_run(watcher, empty_dsn, arbedb_project.root, first.commit)
    for rev in HEAD_REVISIONS:
        assert sum(out.count(f"upgrade {rev}:") for out in outputs) == 1, outputs
    assert sum("nothing to do" in out for out in outputs) == 1


OLD_ADVISORY_KEY = 0x617262656462  # what applies serialised on before: a key any role could lock


def test_a_stranger_role_cannot_stall_an_apply(arbedb_cluster, project_copy, empty_dsn):
    pyproject = project_copy.root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('apply_lock_wait = "120s"', 'apply_lock_wait = "2s"'))
    from arbedb.config import find_project

    project = find_project(project_copy.root)
    commands.apply(project, empty_dsn)
    role = f"stranger_{os.getpid()}"
    with psycopg.connect(empty_dsn, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN")
        try:
            with psycopg.connect(psycopg.conninfo.make_conninfo(empty_dsn, user=role)) as stranger:
                oid = stranger.execute("SELECT oid FROM pg_class WHERE relname = 'apply_lock'").fetchone()[0]
                stranger.execute("SELECT pg_advisory_xact_lock(%s)", (OLD_ADVISORY_KEY,))
                stranger.execute("SELECT pg_relation_size(%s)", (oid,))  # ACCESS SHARE by oid: open to anyone
                stranger.execute("SAVEPOINT s")
                with pytest.raises(psycopg.errors.InsufficientPrivilege):  # denied: the lock applies take
                    stranger.execute(f"LOCK TABLE {lock.LOCK_TABLE} IN {lock.LOCK_MODE} MODE NOWAIT")
                stranger.execute("ROLLBACK TO SAVEPOINT s")
                # Had it to wait for anything the stranger holds, it would fail after apply_lock_wait
                # (2 s) or lock_timeout: the stranger keeps its locks until after the apply.
                result = commands.apply(project, empty_dsn, redeclare=True)
                assert result.declarative
                stranger.rollback()
        finally:
            admin.execute(f"DROP ROLE {role}")


def test_arbedb_runs_the_revisions_as_alembic_would(arbedb_project, arbedb_cluster, monkeypatch):
    """arbedb's own runner and alembic, on two empty databases: the same catalog, version table,
    bookkeeping and output."""
    assert direct.plan(arbedb_project) is not None  # this project is the template's: the runner applies
    with arbedb_cluster.database() as ours, arbedb_cluster.database() as theirs:
        mine = commands.apply(arbedb_project, ours)
        monkeypatch.setattr(direct, "plan", lambda project: None)
        alembics = commands.apply(arbedb_project, theirs)
        assert (mine.steps, mine.declarative, mine.heads) == (alembics.steps, alembics.declarative, alembics.heads)
        assert_same_catalog(snapshot(theirs), snapshot(ours))
        query = ("SELECT (SELECT array_agg(version_num) FROM arbedb.alembic_version), "
                 "(SELECT array_agg(path || sha256 ORDER BY path) FROM arbedb.declarative_state), "
                 "(SELECT array_agg(attname || format_type(atttypid, atttypmod) || attnotnull ORDER BY attnum) "
                 " FROM pg_attribute WHERE attrelid = 'arbedb.alembic_version'::regclass AND attnum > 0), "
                 "(SELECT array_agg(conname || pg_get_constraintdef(oid)) FROM pg_constraint "
                 " WHERE conrelid = 'arbedb.alembic_version'::regclass)")
        with psycopg.connect(ours) as a, psycopg.connect(theirs) as b:
            assert a.execute(query).fetchone() == b.execute(query).fetchone()


PYTHON_REVISION = '''"""a revision with Python in it"""
from alembic import op

revision = "{rev}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("CREATE TABLE public.from_python (id int)")


def downgrade():
    op.execute("DROP TABLE public.from_python")
'''


def test_a_revision_with_python_in_it_is_left_to_alembic(project_copy, empty_dsn):
    assert direct.plan(project_copy) is not None
    (project_copy.migrations_dir / "versions" / f"{NEXT}_python.py").write_text(
        PYTHON_REVISION.format(rev=NEXT, down=HEAD))
    assert direct.plan(project_copy) is None
    result = commands.apply(project_copy, empty_dsn)
    assert result.steps[-1].startswith(f"upgrade {NEXT}: a revision with Python in it")
    assert "from_python" in _tables(empty_dsn)


def test_a_customised_env_py_is_left_to_alembic(project_copy):
    env = project_copy.migrations_dir / "env.py"
    env.write_text(env.read_text().replace("run(context)", "print('mine')\nrun(context)"))
    assert direct.plan(project_copy) is None


def test_apply_blocked_by_traffic_fails_clearly_within_lock_timeout(project_copy, empty_dsn):
    commands.apply(project_copy, empty_dsn)
    pyproject = project_copy.root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('lock_timeout = "5s"', 'lock_timeout = "300ms"'))
    from arbedb.config import find_project

    project = find_project(project_copy.root)
    commands.new(project, "touch_agents", up_sql="ALTER TABLE public.agents ADD COLUMN note text;\n",
                 down_sql="ALTER TABLE public.agents DROP COLUMN note;\n")
    with psycopg.connect(empty_dsn) as traffic:
        traffic.execute("SELECT count(*) FROM public.agents")  # holds ACCESS SHARE until rollback
        started = time.perf_counter()
        with pytest.raises(ArbedbError, match="lock timeout"):
            commands.apply(project, empty_dsn)
        assert time.perf_counter() - started < 5
        traffic.rollback()
    assert commands.status(project, empty_dsn).current == (HEAD,)


def test_template_clone_is_copied_not_migrated(arbedb_cluster, arbedb_template, arbedb_dsn):
    with psycopg.connect(arbedb_cluster.dsn_for(arbedb_template)) as tpl:
        tpl_applied = tpl.execute("SELECT applied_at FROM arbedb.applied").fetchone()[0]
        assert tpl.execute("SELECT datistemplate FROM pg_database WHERE datname = current_database()").fetchone()[0]
    with psycopg.connect(arbedb_dsn) as clone:
        # Same apply timestamp: the clone is a copy of the template, no apply ran for it.
        assert clone.execute("SELECT applied_at FROM arbedb.applied").fetchone()[0] == tpl_applied
        assert clone.execute("SELECT version_num FROM arbedb.alembic_version").fetchone()[0] == HEAD_REVISIONS[-1]


def test_the_suite_runs_on_the_configured_server(arbedb_cluster):
    expected = os.environ.get("ARBEDB_EXPECT_MAJOR")
    major = arbedb_cluster.major()
    assert major >= 15
    if expected:
        assert major == int(expected), arbedb_cluster.description
