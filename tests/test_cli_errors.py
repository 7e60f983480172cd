"""Bad input, as a new user types it: one line on stderr that says what and how to fix it,
a non-zero exit, no traceback, and nothing half-written (issue 17, item 4)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from arbedb.cli import main
from arbedb.engine.lock import APPLY_APPLICATION, LOCK_MODE, LOCK_TABLE

from revisions import HEAD, NEXT, STEMS

HEAD_REVISION = f"migrations/versions/{STEMS[-1]}.py"
AFTER = f"{int(NEXT) + 1:04d}"  # the revision after NEXT


def run(project, *argv, env=None):
    """The CLI in-process, in ``project``'s root; (exit code, stdout, stderr)."""
    cwd = os.getcwd()
    os.chdir(project.root)
    try:
        result = CliRunner().invoke(main, list(argv), env={"DATABASE_URL": None, **(env or {})})
    finally:
        os.chdir(cwd)
    return result.exit_code, result.stdout, result.stderr


def one_error_line(code, stderr, pattern, expected_code=1):
    assert code == expected_code, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("arbedb: error: "), stderr
    assert re.search(pattern, lines[0]), lines[0]


# argv (or env) -> the one line it now gets. None of these reaches a database.
NO_DATABASE = [
    (["status", "--dsn", "not a url"], {}, r"--dsn is not a PostgreSQL connection string .*postgresql://"),
    (["status", "--dsn", "mysql://x"], {}, r"--dsn is a mysql:// URL, not a PostgreSQL one"),
    (["apply", "--dsn", ""], {}, r"--dsn is empty: .* or leave it out to use the local server"),
    (["status"], {"DATABASE_URL": "garbage"}, r"DATABASE_URL is not a PostgreSQL connection string"),
    (["matrix"], {"DATABASE_URL": ""}, r"DATABASE_URL is empty"),
    (["verify", "--dsn", "postgresql://x@127.0.0.1:1/db", "--scratch-dsn", "redis://x"], {},
     r"--scratch-dsn is a redis:// URL"),
    (["lint", "nonexistent.sql"], {}, r"nonexistent.sql: no such file or folder"),
    (["lint", "pyproject.toml"], {}, r"pyproject.toml: no SQL that arbedb lints is there"),
    (["new", "a" * 300], {}, r"300 characters long; at most 63 \(PostgreSQL's identifier length"),
    (["new", "Add-Labels"], {}, r"use lower_snake_case"),
]


@pytest.mark.parametrize("argv, env, pattern", NO_DATABASE, ids=[" ".join(a)[:40] for a, _, _ in NO_DATABASE])
def test_bad_input_is_one_line(project_copy, argv, env, pattern):
    code, _, stderr = run(project_copy, *argv, env=env)
    one_error_line(code, stderr, pattern)
    assert "Traceback" not in stderr
    assert not (project_copy.root / ".arbedb").exists(), "no local server is started for bad input"


@pytest.mark.parametrize("dsn", ["hunter2secret", "host=h password=hunter2secret x", "hunter2secret more words"])
def test_a_secret_in_a_bad_dsn_is_not_echoed(project_copy, dsn):
    code, _, stderr = run(project_copy, "status", "--dsn", dsn)
    one_error_line(code, stderr, r"not a PostgreSQL connection string")
    assert "hunter2secret" not in stderr


@pytest.mark.parametrize("argv", [["rls-test", "--examples", "0"],
                                  ["rls-test", "--mutate", "--mutant-examples", "0"],
                                  ["rls-test", "--mutate", "--jobs", "0"]])
def test_counts_below_one_are_refused_by_click(project_copy, argv):
    code, _, stderr = run(project_copy, *argv)
    assert code == 2 and re.search(r"Invalid value for '--[a-z-]+': 0 is not in the range x>=1", stderr), stderr


@pytest.mark.parametrize("command", ["start", "stop", "url"])
def test_db_commands_have_help(project_copy, command):
    code, out, _ = run(project_copy, "db", "--help")
    assert code == 0
    line = next(line for line in out.splitlines() if line.strip().startswith(command + " "))
    assert len(line.split(None, 1)[1]) > 20, line


# -- the configuration, checked before any server starts ----------------------------------------

def _set_config(project, key, value):
    pyproject = project.root / "pyproject.toml"
    text = pyproject.read_text()
    pattern = re.compile(rf"^{key} = .*$", re.M)
    line = f"{key} = {value}"
    pyproject.write_text(pattern.sub(line, text) if pattern.search(text)
                         else text.replace("[tool.arbedb]\n", f"[tool.arbedb]\n{line}\n"))


@pytest.mark.parametrize("key, value, pattern", [
    ("migrations", '"nope"', r"migrations = 'nope', but .*/nope does not exist"),
    ("apply_lock_wait", '"soon"', r"apply_lock_wait = 'soon' is not a duration"),
    ("declarative", '["policies", "missing"]', r"declarative folder .*missing does not exist"),
])
@pytest.mark.parametrize("command", ["status", "apply", "up", "lint"])
def test_a_broken_config_is_one_line_before_any_server_starts(project_copy, key, value, pattern, command):
    _set_config(project_copy, key, value)
    code, _, stderr = run(project_copy, command)
    one_error_line(code, stderr, pattern)
    assert not (project_copy.root / ".arbedb").exists()


@pytest.mark.parametrize("command", ["status", "apply", "up", "matrix", "verify", "rls-test", "new add_x"])
def test_a_migrations_folder_without_env_py_is_one_line(project_copy, command):
    _set_config(project_copy, "migrations", '"policies"')
    code, _, stderr = run(project_copy, *command.split())
    one_error_line(code, stderr, r"migrations = 'policies', but .*policies/env.py does not exist")
    assert not (project_copy.root / ".arbedb").exists()


# -- the revision history -------------------------------------------------------------------------

def _add_revision(project, rev, down, stem):
    versions = project.root / "migrations" / "versions"
    text = (versions / Path(HEAD_REVISION).name).read_text()
    text = re.sub(r'^revision = ".*"$', f'revision = "{rev}"', text, flags=re.M)
    text = re.sub(r'^down_revision = ".*"$', f'down_revision = "{down}"', text, flags=re.M)
    (versions / f"{stem}.py").write_text(text)
    (versions / f"{stem}.up.sql").write_text("SELECT 1;\n")
    (versions / f"{stem}.down.sql").write_text("SELECT 1;\n")


HISTORIES = {
    "two heads": ([(NEXT, HEAD, f"{NEXT}_a"), (AFTER, HEAD, f"{AFTER}_b")],
                  rf"the history splits: revisions {NEXT}, {AFTER} all follow {HEAD}; set down_revision of {AFTER} to {NEXT}"),
    "one id twice": ([(NEXT, HEAD, f"{NEXT}_a"), (NEXT, HEAD, f"{NEXT}_b")],
                     rf"revision {NEXT} is declared by 2 files .*{NEXT}_a.py, .*{NEXT}_b.py"),
}


@pytest.mark.parametrize("history", HISTORIES)
@pytest.mark.parametrize("argv", [["status"], ["apply"], ["down"], ["new", "add_labels"]])
def test_a_split_history_is_one_line(project_copy, history, argv):
    revisions, pattern = HISTORIES[history]
    for rev in revisions:
        _add_revision(project_copy, *rev)
    before = sorted(p.name for p in (project_copy.root / "migrations" / "versions").iterdir())
    with _no_warning_leaks():
        code, _, stderr = run(project_copy, *argv, env={"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"})
    one_error_line(code, stderr, pattern)
    assert "UserWarning" not in stderr and "heads" not in stderr.split("; ")[-1].replace("set down", "")
    assert sorted(p.name for p in (project_copy.root / "migrations" / "versions").iterdir()) == before


class _no_warning_leaks:
    def __enter__(self):
        import warnings

        self._catch = warnings.catch_warnings(record=True)
        self.caught = self._catch.__enter__()
        warnings.simplefilter("always")

    def __exit__(self, *exc):
        self._catch.__exit__(*exc)
        assert not [w for w in self.caught if "present more than once" in str(w.message)]


@pytest.mark.parametrize("history", HISTORIES)
def test_lint_reports_a_split_history(project_copy, history):
    revisions, pattern = HISTORIES[history]
    for rev in revisions:
        _add_revision(project_copy, *rev)
    code, out, _ = run(project_copy, "lint", "--engine", "arbedb", "policies")
    assert code == 1
    assert re.search(r"ARB090 " + pattern.split(";")[0], out), out


def test_lint_passes_a_linear_history(project_copy):
    _add_revision(project_copy, NEXT, HEAD, f"{NEXT}_a")
    code, out, _ = run(project_copy, "lint", "--engine", "arbedb", f"migrations/versions/{NEXT}_a.up.sql")
    assert "ARB090" not in out, out


# -- unwritable paths: nothing half-written ------------------------------------------------------

def test_lint_report_to_an_unwritable_place(project_copy):
    (project_copy.root / "afile").write_text("")
    code, _, stderr = run(project_copy, "lint", "--engine", "arbedb", "-o", "afile/report.txt")
    one_error_line(code, stderr, r"cannot write the arbedb lint report in afile: afile is a file, not a folder; nothing was written")


def test_export_to_an_unwritable_place(project_copy):
    (project_copy.root / "afile").write_text("")
    code, _, stderr = run(project_copy, "export", "supabase", "afile/migrations")
    one_error_line(code, stderr, r"cannot write the Supabase migrations in afile/migrations: afile is a file, not a folder")


def test_up_in_a_checkout_where_the_server_cannot_live(project_copy):
    (project_copy.root / ".arbedb").write_text("")
    code, _, stderr = run(project_copy, "up")
    one_error_line(code, stderr, r"cannot keep the local server's data in .*\.arbedb .*writable checkout")


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv")
def test_new_in_a_read_only_checkout_writes_nothing(project_copy):
    """As root, chmod stops nothing: the checkout is nobody's, and `new` runs as a root without
    capabilities (no CAP_DAC_OVERRIDE), for whom a folder owned by another user is read-only."""
    versions = project_copy.root / "migrations" / "versions"
    for path in [project_copy.root, *project_copy.root.rglob("*")]:
        os.chown(path, 65534, 65534)
        path.chmod(0o755 if path.is_dir() else 0o644)
    before = sorted(p.name for p in versions.iterdir())
    proc = subprocess.run(["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--",
                           sys.executable, "-m", "arbedb.cli", "new", "add_x"],
                          cwd=project_copy.root, capture_output=True, text=True)
    one_error_line(proc.returncode, proc.stderr,
                   rf"cannot write revision {NEXT} in .*migrations/versions \(Permission denied\); nothing was written")
    assert sorted(p.name for p in versions.iterdir()) == before


def test_new_writes_its_three_files(project_copy):
    code, out, stderr = run(project_copy, "new", "b" * 63)
    assert code == 0, stderr
    versions = project_copy.root / "migrations" / "versions"
    stem = f"{NEXT}_" + "b" * 63
    assert {p.name for p in versions.iterdir() if p.name.startswith(NEXT)} == {
        f"{stem}.py", f"{stem}.up.sql", f"{stem}.down.sql"}
    assert f"down_revision = '{HEAD}'" in (versions / f"{stem}.py").read_text()
    assert not [p for p in versions.iterdir() if p.name.startswith(".arbedb-staging")]


# -- against a database -------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [["matrix"], ["verify"], ["rls-test", "--examples", "1"]])
def test_an_unmigrated_database_is_named_with_the_fix(project_copy, empty_dsn, argv):
    code, _, stderr = run(project_copy, *argv, "--dsn", empty_dsn)
    one_error_line(code, stderr, r"database \S+ on 127.0.0.1:\d+ is not migrated \(no revision applied; head is "
                                 rf"{HEAD}\): run `arbedb apply` against it first")


def test_down_at_base(project_copy, empty_dsn):
    code, _, stderr = run(project_copy, "down", "--dsn", empty_dsn)
    one_error_line(code, stderr, r"is at base \(no revision applied\): there is nothing to downgrade")
    code, out, _ = run(project_copy, "down", "base", "--dsn", empty_dsn)
    assert code == 0 and "nothing to do: already at base" in out and "at head" not in out


@pytest.fixture
def silent_port():
    """A port where something accepts connections and never answers (Redis waiting for a command)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_a_port_where_something_else_answers_times_out(project_copy, silent_port, monkeypatch):
    monkeypatch.setattr("arbedb.db.CONNECT_TIMEOUT", 2)  # the default, shortened; PGCONNECT_TIMEOUT unset
    started = time.monotonic()
    code, _, stderr = run(project_copy, "status", "--dsn", f"postgresql://postgres@127.0.0.1:{silent_port}/x",
                          env={"PGCONNECT_TIMEOUT": None})
    one_error_line(code, stderr, rf"cannot connect to the database x on 127.0.0.1:{silent_port} \(nothing answered as "
                                 r"PostgreSQL within 2s")
    assert time.monotonic() - started < 10


def test_the_default_connect_timeout_is_short():
    from arbedb.db import CONNECT_TIMEOUT

    assert CONNECT_TIMEOUT <= 15


def _hold_apply_lock(dsn, application=APPLY_APPLICATION):
    conn = psycopg.connect(dsn, application_name=application)
    conn.execute(f"LOCK TABLE {LOCK_TABLE} IN {LOCK_MODE} MODE")
    return conn


def test_waiting_for_another_apply_says_so_and_names_apply_lock_wait(project_copy, arbedb_dsn):
    _set_config(project_copy, "apply_lock_wait", '"1s"')
    holder = _hold_apply_lock(arbedb_dsn)
    try:
        code, _, stderr = run(project_copy, "apply", "--dsn", arbedb_dsn)
    finally:
        holder.close()
    assert code == 1
    waiting, error = stderr.strip().splitlines()
    assert re.match(r"arbedb: waiting for another arbedb apply \(pid \d+\) to finish \(its transaction has run \d+s\); "
                    r"at most apply_lock_wait = 1s$", waiting), waiting
    assert re.match(r"arbedb: error: another arbedb apply \(pid \d+\) still held the apply lock after "
                    r"apply_lock_wait = 1s; nothing was applied", error), error
    assert "prelude" not in stderr and "lock_timeout" not in stderr and "fix the file" not in stderr
    code, out, _ = run(project_copy, "apply", "--dsn", arbedb_dsn)  # the lock is free: it goes through
    assert code == 0, out


# -- Ctrl-C -----------------------------------------------------------------------------------

def _interrupt_while_blocked(argv, cwd, dsn: str, holder) -> tuple[int, str, str]:
    """Run the command; once one of its statements is waiting, on the server, for a lock ``holder``
    (an open transaction) holds, press Ctrl-C; then let go of the lock. Not a sleep: the SIGINT lands
    inside a running statement every time, where psycopg turns it into a cancel (the case that once
    let a command run on and exit 0)."""
    proc = subprocess.Popen([sys.executable, "-m", "arbedb.cli", *argv], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    blocked = ("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
               "AND pid NOT IN (pg_backend_pid(), %s) AND state = 'active' AND wait_event_type = 'Lock'")
    try:
        with psycopg.connect(dsn, autocommit=True) as watcher:
            deadline = time.time() + 60
            while watcher.execute(blocked, (holder.info.backend_pid,)).fetchone()[0] == 0:
                assert proc.poll() is None and time.time() < deadline, "the command never reached the held lock"
                time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
    finally:
        holder.rollback()  # were the command to run on, it must not wait on the lock again
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def test_ctrl_c_stops_rls_test_every_time(project_copy, arbedb_dsn):
    holder = psycopg.connect(arbedb_dsn)
    holder.execute("LOCK TABLE public.houses IN ACCESS EXCLUSIVE MODE")  # every world writes a house
    try:
        code, out, err = _interrupt_while_blocked(["rls-test", "--dsn", arbedb_dsn, "--examples", "20"],
                                                  project_copy.root, arbedb_dsn, holder)
    finally:
        holder.close()
    assert code == 130, (out, err)
    assert err.strip().splitlines()[-1] == "arbedb: interrupted; every world was rolled back: the database is as it was"
    assert "database and model agree" not in out


# A library that catches the KeyboardInterrupt itself (as psycopg once turned it into a cancelled
# query, and as any callback that swallows exceptions does): Ctrl-C lands, deterministically, inside
# such a catch during the first world, and the worlds would run on to "database and model agree".
SWALLOWING_LIBRARY = """
import os, signal, time
import arbedb.rls.command as command
real_run = command.run

def run(dsn, perms, *, on_example, **kwargs):
    swallowed = []

    def tick():
        if not swallowed:
            try:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(5)  # the handler runs here
            except KeyboardInterrupt:
                swallowed.append(True)
        on_example()

    return real_run(dsn, perms, on_example=tick, **kwargs)

command.run = run
from arbedb.cli import main
main({argv!r})
"""


def test_ctrl_c_a_library_swallowed_still_stops_rls_test(project_copy, arbedb_dsn):
    argv = ["rls-test", "--dsn", arbedb_dsn, "--examples", "3"]
    proc = subprocess.run([sys.executable, "-c", SWALLOWING_LIBRARY.format(argv=argv)], cwd=project_copy.root,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 130, (proc.stdout, proc.stderr)
    assert proc.stderr.strip().splitlines()[-1] == ("arbedb: interrupted; every world was rolled back: "
                                                    "the database is as it was")
    assert "database and model agree" not in proc.stdout


def test_ctrl_c_in_apply_says_it_was_rolled_back(project_copy, arbedb_dsn):
    holder = _hold_apply_lock(arbedb_dsn)  # the apply waits on it: Ctrl-C lands inside its transaction
    try:
        code, _, err = _interrupt_while_blocked(["apply", "--dsn", arbedb_dsn, "--redeclare"], project_copy.root,
                                                arbedb_dsn, holder)
    finally:
        holder.close()
    assert code == 130, err
    assert err.strip().splitlines()[-1] == ("arbedb: interrupted; the apply's transaction was rolled back: "
                                            "the database is as it was")
    assert "Traceback" not in err
