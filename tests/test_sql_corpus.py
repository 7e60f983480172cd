"""Apply runs every statement of a SQL file, or fails naming file:line with nothing kept.

Each file of tests/fixtures/sql_corpus/ is run by `psql -v ON_ERROR_STOP=1 -1 -f` on one clone of
the migrated template and by arbedb on another (as a revision and as a declarative file; online,
offline and exported), and the same objects must exist afterwards. The first line of each file
says what it should do: ``-- corpus: creates a, f(), …`` or ``-- corpus: fails at line N``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
from conftest import assert_same_catalog, snapshot

from click.testing import CliRunner

from arbedb import commands
from arbedb.cli import main
from arbedb.engine import sqlfile
from arbedb.errors import ArbedbError
from arbedb.export import export_supabase
from revisions import HEAD, NEXT

pytest_plugins = ["supabase_fixture"]

CORPUS = Path(__file__).parent / "fixtures" / "sql_corpus"
FILES = sorted(CORPUS.glob("*/*.sql"))



def _parses(path: Path) -> bool:
    try:
        sqlfile.statements(path.read_text())
    except sqlfile.SqlSyntaxError:
        return False
    return True


# Files PostgreSQL's parser rejects: refused before anything is run or written. (The other
# malformed ones fail on the server, inside the transaction.)
UNPARSABLE = [p for p in FILES if p.parent.name == "malformed" and not _parses(p)]
HEADER = re.compile(r"^-- corpus: (?:fails at line (?P<line>\d+)|creates (?P<objects>[^|]*?)"
                    r"(?: \| export fails at line (?P<export>\d+))?)$")
VARIANTS = {"revision": f"migrations/versions/{NEXT}_corpus.up.sql", "declarative": "policies/99_corpus.sql"}
# What a corpus file can create in public: relations, functions, rules, by name.
OBJECTS_SQL = """
    SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'v', 'm', 'S', 'p', 'f')
    UNION ALL SELECT proname || '()' FROM pg_proc WHERE pronamespace = 'public'::regnamespace
    UNION ALL SELECT rulename FROM pg_rules WHERE schemaname = 'public'"""


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def _header(path: Path) -> re.Match:
    match = HEADER.match(path.read_text().split("\n", 1)[0])
    assert match, f"{path}: the first line must be `-- corpus: creates …` or `-- corpus: fails at line N`"
    return match


def expectation(path: Path) -> tuple[int | None, set[str]]:
    """(line the apply must name, or None when it must succeed; the objects the file creates)."""
    match = _header(path)
    if match.group("line"):
        return int(match.group("line")), set()
    names = match.group("objects")
    return None, set() if names == "nothing" else set(names.split(", "))


def export_line(path: Path) -> int | None:
    """The line `arbedb export supabase` must refuse the file at, or None."""
    match = _header(path)
    found = match.group("line") if path in UNPARSABLE else match.group("export")
    return int(found) if found else None


def objects(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        return {r[0] for r in conn.execute(OBJECTS_SQL)}


def psql(arbedb_cluster, dsn: str, path: Path, *options: str) -> subprocess.CompletedProcess:
    server = getattr(arbedb_cluster, "_server", None)
    bundled = server.binaries.bindir / "psql" if server else None
    exe = str(bundled) if bundled and bundled.is_file() else shutil.which("psql")
    if exe is None:
        pytest.skip("psql is not installed")
    return subprocess.run([exe, "-X", "-q", "-v", "ON_ERROR_STOP=1", *options, "-f", str(path), dsn],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def fresh(arbedb_cluster, arbedb_template):
    """A factory of clones of the migrated template, dropped after the test."""
    with ExitStack() as stack:
        yield lambda: stack.enter_context(arbedb_cluster.database(template=arbedb_template))


@pytest.fixture(scope="module")
def baseline(arbedb_cluster, arbedb_template):
    with arbedb_cluster.database(template=arbedb_template) as dsn:
        return objects(dsn)


def place(project, path: Path, variant: str) -> str:
    """Put the corpus file into the project copy as a revision or a declarative file; its relpath."""
    text = path.read_text()
    if variant == "revision":
        commands.new(project, "corpus", up_sql=text, down_sql="SELECT 1;\n")
    else:
        (project.root / VARIANTS[variant]).write_text(text)
    return VARIANTS[variant]


def _version(dsn: str) -> str:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT version_num FROM arbedb.alembic_version").fetchone()[0]


@pytest.fixture(scope="module")
def psql_runs(arbedb_cluster, arbedb_template, baseline):
    """What `psql -1 -f` leaves of a corpus file, (objects added, catalog snapshot), once per file
    (after checking psql does what the file's first line says)."""
    done: dict[Path, tuple[set[str], dict]] = {}

    def run(path: Path):
        if path not in done:
            line, created = expectation(path)
            with arbedb_cluster.database(template=arbedb_template) as dsn:
                proc = psql(arbedb_cluster, dsn, path, "-1")
                added = objects(dsn) - baseline
                assert (proc.returncode == 0) == (line is None) and added == created, proc.stderr
                done[path] = added, snapshot(dsn)
        return done[path]
    return run


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("path", FILES, ids=_id)
def test_apply_keeps_exactly_what_psql_keeps(path, variant, psql_runs, project_copy, fresh, baseline, monkeypatch):
    psql_added, psql_catalog = psql_runs(path)
    line, _ = expectation(path)
    relpath = place(project_copy, path, variant)
    dsn = fresh()
    before = snapshot(dsn)
    if line is None:
        commands.apply(project_copy, dsn)
        assert objects(dsn) - baseline == psql_added
        assert_same_catalog(psql_catalog, snapshot(dsn))
        return
    monkeypatch.chdir(project_copy.root)
    run = CliRunner().invoke(main, ["apply", "--dsn", dsn])
    errors = run.stderr.strip().splitlines()
    assert run.exit_code == 1, run.output
    assert len(errors) == 1 and errors[0].startswith(f"arbedb: error: {relpath}:{line}: "), run.stderr
    assert objects(dsn) - baseline == psql_added == set()
    assert_same_catalog(before, snapshot(dsn))
    assert _version(dsn) == HEAD


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("path", FILES, ids=_id)
def test_offline_script_carries_every_statement_or_fails(path, variant, project_copy, fresh, baseline,
                                                         arbedb_cluster, tmp_path):
    """`alembic upgrade head --sql`: the file is written out whole and runs to the same objects,
    also when it ends without a semicolon and another file follows; one PostgreSQL's parser
    rejects is not written; one that fails on the server leaves nothing when the script runs."""
    line, created = expectation(path)
    relpath = place(project_copy, path, variant)
    if path in UNPARSABLE:
        with pytest.raises(ArbedbError, match=re.escape(f"{relpath}:{line}: ")):
            commands.offline_sql(project_copy, f"{HEAD}:head")
        return
    script = commands.offline_sql(project_copy, f"{HEAD}:head")
    assert path.read_text().rstrip() in script
    (tmp_path / "offline.sql").write_text(script)
    dsn = fresh()
    before = snapshot(dsn)
    proc = psql(arbedb_cluster, dsn, tmp_path / "offline.sql")
    assert (proc.returncode == 0) == (line is None), proc.stderr
    assert objects(dsn) - baseline == created
    if line is not None:
        assert_same_catalog(before, snapshot(dsn))


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("path", [p for p in FILES if export_line(p)], ids=_id)
def test_export_refuses_a_file_it_cannot_carry_whole_and_writes_nothing(path, variant, project_copy, tmp_path):
    """Unparsable files, and files the Supabase CLI would split otherwise than PostgreSQL."""
    line = export_line(path)
    relpath = place(project_copy, path, variant)
    out = tmp_path / "supabase" / "migrations"
    with pytest.raises(ArbedbError, match=re.escape(f"{relpath}:{line}: ")):
        export_supabase(project_copy, out)
    assert not out.exists()


@pytest.mark.parametrize("statement", ["COMMIT", "BEGIN", "ROLLBACK", "END", "START TRANSACTION", "SAVEPOINT s",
                                       "RELEASE SAVEPOINT s", "ROLLBACK TO SAVEPOINT s", "PREPARE TRANSACTION 'x'",
                                       "COMMIT PREPARED 'x'"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_transaction_control_in_a_file_is_refused(statement, variant, project_copy, empty_dsn, tmp_path):
    """A COMMIT in a file would end the apply transaction part way, and `supabase db push` cannot
    run a savepoint: refused before anything runs."""
    commands.apply(project_copy, empty_dsn)
    before = snapshot(empty_dsn)
    source = tmp_path / "tx.sql"
    source.write_text(f"CREATE TABLE public.c_tx_a (id int);\n{statement};\nCREATE TABLE public.c_tx_b (id int);\n")
    place(project_copy, source, variant)
    with pytest.raises(ArbedbError, match=re.escape(f"{VARIANTS[variant]}:2: ") + ".*remove it"):
        commands.apply(project_copy, empty_dsn)
    assert_same_catalog(before, snapshot(empty_dsn))


def test_text_the_parser_leaves_out_of_every_statement_is_an_error(monkeypatch):
    """The guard behind "every byte runs": should the parser ever return fewer statements than
    the text holds, the file is refused at the first token left out, never run in part."""
    real = sqlfile.parse_sql
    monkeypatch.setattr(sqlfile, "parse_sql", lambda text: real(text)[:-1])
    with pytest.raises(sqlfile.SqlSyntaxError) as err:
        sqlfile.statements("SELECT 1;\nSELECT 2;\n")
    assert err.value.offset == len("SELECT 1;\n")


WELLFORMED = [p for p in FILES if p.parent.name == "wellformed"]  # the unexportable ones aside
NOW = datetime(2026, 11, 29, 12, 0, 0)


@pytest.fixture(scope="module")
def pushed(arbedb_project, supabase_cluster, tmp_path_factory):
    """The project exported and pushed by the real `supabase db push`: (the folder, a template of the result)."""
    from supabase_cli import supabase_db_push

    out = tmp_path_factory.mktemp("corpus_export") / "supabase" / "migrations"
    export_supabase(arbedb_project, out, now=NOW)
    return out, supabase_cluster.make_template(f"corpus_pushed_{os.getpid()}", lambda dsn: supabase_db_push(dsn, out))


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("path", WELLFORMED, ids=_id)
def test_supabase_db_push_of_the_export_runs_every_statement(path, variant, pushed, supabase_cluster, supabase_push,
                                                            project_copy, tmp_path):
    """The Supabase CLI splits each exported file with its own scanner: every statement of the
    corpus file still runs, and nothing else changes, when the export is pushed."""
    folder, template = pushed
    _, created = expectation(path)
    out = tmp_path / "supabase" / "migrations"
    shutil.copytree(folder, out)
    place(project_copy, path, variant)
    new = export_supabase(project_copy, out, now=NOW).written
    assert new, "the corpus file should be exported"
    with supabase_cluster.database(template=template) as dsn:
        before = objects(dsn)
        assert supabase_push(dsn, out) == [p.name for p in new]
        assert objects(dsn) - before == created


@pytest.mark.parametrize("offline", [True, False], ids=["--sql", "online"])
def test_alembic_by_hand_fails_in_one_line_and_prints_no_script(offline, project_copy, empty_dsn):
    """`alembic upgrade head [--sql]` run by hand: one FAILED line naming file:line, exit non-zero,
    no partial script (every file is parsed before the first line is printed), nothing applied."""
    path = CORPUS / "malformed" / "unclosed_paren_middle.sql"
    line, _ = expectation(path)
    relpath = place(project_copy, path, "revision")
    before = snapshot(empty_dsn)
    proc = subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head", *(["--sql"] if offline else [])],
                          cwd=project_copy.root, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "DATABASE_URL": empty_dsn})
    output = (proc.stdout + proc.stderr).strip().splitlines()
    assert proc.returncode != 0
    assert output == [output[0]] and output[0].startswith(f"FAILED: {relpath}:{line}: "), output
    assert_same_catalog(before, snapshot(empty_dsn))
