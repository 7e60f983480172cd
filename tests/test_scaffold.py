"""`arbedb new-table`: a scaffolded table passes lint, applies, verifies and behaves like its siblings."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid

import psycopg
import pytest
from conftest import ROOT
from matrix_spec import ADMINS, MEMBERS, SERVICE

from arbedb import commands
from arbedb.errors import ArbedbError
from arbedb.testing.impersonate import as_user
from arbedb.lint import lint
from arbedb.matrix.probe import probe_matrix
from arbedb.scaffold.table import new_table
from arbedb.electric.shapes import load_shapes
from arbedb.verify import verify
from arbedb.testing.world import WorldBuilder
from revisions import NEXT

pytest_plugins = ["supabase_fixture"]

# The matrix the scaffold's policies promise (the agents rule).
AGENTS_RULE = {"select": MEMBERS | SERVICE, "insert": ADMINS | SERVICE, "update updated_at": ADMINS | SERVICE,
               "soft delete": ADMINS | SERVICE, "delete": SERVICE}


@pytest.fixture
def project(project_copy):
    for config in (".sqlfluff", ".squawk.toml", "pgrls.toml"):  # lint's and verify's configuration
        if (ROOT / config).exists():
            shutil.copy(ROOT / config, project_copy.root / config)
    return project_copy


def files(project) -> dict[str, str]:
    return {p.relative_to(project.root).as_posix(): p.read_text() for p in sorted(project.root.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


def verify_errors(project, dsn, cluster) -> list[str]:
    """`arbedb verify` in full (Electric, the lint conventions, drift, pgrls); drift's scratch database on the test server."""
    report = verify(project, dsn, scratch_dsn=cluster.admin_dsn)
    return [f.line_text() for f in report.findings if f.severity == "error"]


def test_a_synced_child_table_follows_every_convention(project, empty_dsn, arbedb_cluster):
    done = new_table(project, "labels", parent="agents")
    rel = sorted(p.relative_to(project.root).as_posix() for p in done.created + done.changed)
    assert rel == ["electric/shapes.toml", f"migrations/versions/{NEXT}_add_labels.down.sql",
                   f"migrations/versions/{NEXT}_add_labels.py", f"migrations/versions/{NEXT}_add_labels.up.sql",
                   "pgrls.toml", "policies/39_labels.sql", "policies/permissions.toml", "triggers/50_labels.sql"]

    report = lint(project, [str(p) for p in done.created + done.changed if p.suffix == ".sql"])  # sqlfluff, squawk and the project's rules, on what the scaffold wrote
    assert [f.line_text() for f in report.errors] == []
    assert [f.line_text() for f in lint(project, engines=("arbedb",)).errors] == []

    labels = load_shapes(project).table("labels")
    assert labels.columns == ("id", "house_id", "agent_id", "created_by", "created_at", "updated_at", "deleted_at")

    commands.apply(project, empty_dsn)
    assert verify_errors(project, empty_dsn, arbedb_cluster) == []
    with psycopg.connect(empty_dsn) as conn:
        ident = conn.execute("SELECT relreplident, relrowsecurity, relforcerowsecurity FROM pg_class "
                             "WHERE oid = 'public.labels'::regclass").fetchone()
        assert ident == ("f", True, True)

    allowed = probe_matrix(empty_dsn).allowed()
    assert {action: allowed["labels", action] for action in AGENTS_RULE} == AGENTS_RULE


def test_a_child_row_takes_its_parent_house_and_never_another(project, empty_dsn):
    new_table(project, "labels", parent="agents")
    commands.apply(project, empty_dsn)
    with psycopg.connect(empty_dsn) as conn:
        w = WorldBuilder(conn)
        admin, other = w.user("a@x.y"), w.user("o@x.y")
        house, elsewhere = w.house("H", created_by=admin), w.house("E", created_by=other)
        agent, foreign_agent = w.row("agents", house), w.row("agents", elsewhere)
        with as_user(conn, admin, "a@x.y") as cur:  # house_id inherited from the agent
            row = cur.execute("INSERT INTO labels (id, agent_id) VALUES (%s, %s) RETURNING house_id, created_by",
                              (uuid.uuid4(), agent)).fetchone()
            assert row == (house, admin)
        with pytest.raises(psycopg.errors.ForeignKeyViolation):  # a parent of another house, even for the owner of both
            with conn.transaction():
                w.row("labels", house, agent_id=foreign_agent)


def test_a_table_that_is_not_synced_stays_out_of_electric(project, empty_dsn, arbedb_cluster):
    before = files(project)
    done = new_table(project, "audit_notes", synced=False)
    assert sorted(p.name for p in done.changed) == ["permissions.toml", "pgrls.toml"]
    after = files(project)
    changed = ("pgrls.toml", "policies/permissions.toml")
    assert {k: v for k, v in after.items() if k in before and k not in changed} == {
        k: v for k, v in before.items() if k not in changed}
    commands.apply(project, empty_dsn)
    with psycopg.connect(empty_dsn) as conn:
        published = conn.execute("SELECT count(*) FROM pg_publication_tables WHERE tablename = 'audit_notes'")
        assert published.fetchone() == (0,)
    assert verify_errors(project, empty_dsn, arbedb_cluster) == []


def test_the_scaffold_applies_as_supabase_postgres(project, supabase_dsn):
    new_table(project, "labels", parent="environments")
    result = commands.apply(project, supabase_dsn)
    assert result.steps[-1].startswith(f"upgrade {NEXT}")
    with psycopg.connect(supabase_dsn) as conn:  # Supabase's default grants were taken back
        assert conn.execute("SELECT has_table_privilege('anon', 'public.labels', 'SELECT')").fetchone() == (False,)


@pytest.mark.parametrize("args, message", [
    (("Labels",), "use lower_snake_case"),
    (("user",), "table name 'user' is an SQL keyword; pick another name"),
    (("select",), "table name 'select' is an SQL keyword"),
    (("order",), "table name 'order' is an SQL keyword"),
    (("table",), "table name 'table' is an SQL keyword"),
    (("1abc",), "use lower_snake_case"),
    (("bad-name",), "use lower_snake_case"),
    (("agents",), "public.agents already exists"),
    (("labels", "houses"), "every table already belongs to a house"),
    (("labels", "nope"), "--parent nope: no house-scoped table of that name; one of: agents, api_keys"),
    (("labels", "threads"), "public.threads has no UNIQUE (house_id, id)"),
])
@pytest.mark.once  # files and messages: no server involved
def test_bad_input_is_one_error_line_and_writes_nothing(project, args, message):
    before = files(project)
    with pytest.raises(ArbedbError, match=message.replace("(", r"\(").replace(")", r"\)")):
        new_table(project, args[0], parent=args[1] if len(args) > 1 else None)
    assert files(project) == before

    cli = [sys.executable, "-m", "arbedb.cli", "new-table", args[0], *(["--parent", args[1]] if len(args) > 1 else [])]
    proc = subprocess.run(cli, cwd=project.root, capture_output=True, text=True)
    assert proc.returncode == 1 and proc.stderr.startswith("arbedb: error: ") and proc.stderr.count("\n") == 1
    assert files(project) == before


@pytest.mark.once  # files and messages: no server involved
def test_a_failure_half_way_puts_every_file_back(project, monkeypatch):
    import arbedb.scaffold.table as scaffold

    before = files(project)
    calls = []

    def shapes_fail_the_second_time(p):
        calls.append(p)
        if len(calls) == 2:
            raise ArbedbError("electric/shapes.toml: simulated failure after writing")
        return load_shapes(p)

    monkeypatch.setattr(scaffold, "load_shapes", shapes_fail_the_second_time)
    with pytest.raises(ArbedbError, match="simulated"):
        new_table(project, "labels", parent="agents")
    assert files(project) == before


@pytest.mark.once  # files and messages: no server involved
def test_cli_says_what_it_wrote_and_what_is_left_to_do(project):
    proc = subprocess.run([sys.executable, "-m", "arbedb.cli", "new-table", "labels", "--parent", "agents"],
                          cwd=project.root, capture_output=True, text=True, check=True)
    assert "created policies/39_labels.sql" in proc.stdout and "changed electric/shapes.toml" in proc.stdout
    assert "changed policies/permissions.toml" in proc.stdout
    assert "tables.labels in policies/permissions.toml" in proc.stdout
    assert "tooling/" not in proc.stdout and "model.py" not in proc.stdout  # no step edits the package


def test_the_rls_property_still_holds_with_the_new_table(project, empty_dsn):
    """`arbedb rls-test` on the scaffolded schema, as generated (the declaration written with it)."""
    new_table(project, "labels", parent="agents")
    commands.apply(project, empty_dsn)
    proc = subprocess.run([sys.executable, "-m", "arbedb.cli", "rls-test", "--dsn", empty_dsn, "--examples", "5"],
                          cwd=project.root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "5 worlds, database and model agree" in proc.stdout


# Every place new-table writes. Root ignores file modes, so a target is made unwritable
# with the immutable attribute (chattr +i), which stops root too.
TARGETS = ["policies", "triggers", "migrations/versions", "electric/shapes.toml", "pgrls.toml",
           "policies/permissions.toml"]


@pytest.fixture
def immutable():
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed")
    made = []

    def make(path):
        subprocess.run(["chattr", "+i", str(path)], check=True)
        made.append(path)

    yield make
    for path in made:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.mark.once  # files and messages: no server involved
@pytest.mark.parametrize("target", TARGETS)
def test_an_unwritable_target_is_one_line_and_nothing_is_written(project, immutable, target):
    before = files(project)
    immutable(project.root / target)
    with pytest.raises(ArbedbError, match="not writable|could not write|cannot write") as caught:
        new_table(project, "labels", parent="agents")
    assert "\n" not in str(caught.value) and "nothing was written" in str(caught.value)
    assert files(project) == before


@pytest.mark.once  # files and messages: no server involved
@pytest.mark.parametrize("target", ["electric/shapes.toml", "pgrls.toml", "policies/permissions.toml"])
def test_a_rename_failing_half_way_puts_every_file_back(project, immutable, monkeypatch, target):
    """Past the up-front check (as when a file turns unwritable meanwhile): the files
    already renamed into place get their old text back, the new ones go."""
    import arbedb.files as stage

    monkeypatch.setattr(stage, "_writable", lambda target: None)
    before = files(project)
    immutable(project.root / target)
    with pytest.raises(ArbedbError, match="could not write"):
        new_table(project, "labels", parent="agents")
    assert files(project) == before


@pytest.mark.once  # files and messages: no server involved
def test_the_scaffold_output_lints_clean_for_a_table_named_like_a_keyword(project):
    """An unreserved keyword (comment) is a plain table name: it scaffolds and lints clean."""
    done = new_table(project, "comment", parent="environments")
    report = lint(project, [str(p) for p in done.created + done.changed if p.suffix == ".sql"])
    assert [f.line_text() for f in report.errors] == []
    assert [f.line_text() for f in lint(project, engines=("arbedb",)).errors] == []
