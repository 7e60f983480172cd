"""A table the project adds is declared once (policies/permissions.toml) and then tested like
the nine: scaffolded, applied, green as generated; each way of breaking its security turns
rls-test red; --mutate kills its mutants; a rule the nine do not use works the same way."""

from __future__ import annotations

import shutil

import psycopg
import pytest
from conftest import ROOT

from arbedb import commands
from arbedb.errors import ArbedbError
from arbedb.matrix.declared import departures
from arbedb.matrix.probe import probe_matrix
from arbedb.permissions import load_permissions
from arbedb.rls.checks import Disagreement, run
from arbedb.scaffold.table import new_table

# Two worlds, every table swept in each (as --mutate runs them): each verdict below is
# reached in the first world, so the count only bounds the runtime.
WORLDS = 2


@pytest.fixture
def project(project_copy):
    for config in (".sqlfluff", ".squawk.toml", "pgrls.toml"):
        if (ROOT / config).exists():
            shutil.copy(ROOT / config, project_copy.root / config)
    return project_copy


@pytest.fixture
def scaffolded(project, empty_dsn):
    """labels, a synced child of agents; notes, a child of environments that is not synced."""
    new_table(project, "labels", parent="agents")
    new_table(project, "notes", parent="environments", synced=False)
    commands.apply(project, empty_dsn)
    return project, empty_dsn, load_permissions(project)


def _property(dsn, perms, seed=0):
    run(dsn, perms, examples=WORLDS, seed_value=seed, shrink=False, full_sweep=True)


def test_scaffolded_tables_are_in_the_property_and_green_as_generated(scaffolded):
    project, dsn, perms = scaffolded
    assert {"labels", "notes"} <= set(perms.names)
    assert perms["labels"].parents == (("agent_id", "agents"),) and perms["labels"].write == "admin"
    _property(dsn, perms)
    run(dsn, perms, examples=5, seed_value=1)  # and the ordinary run: one table swept per world


BREAKS = {
    "select opened": ("ALTER POLICY {t}_select ON public.{t} USING (true)", "SELECT {t}"),
    "insert widened": ("ALTER POLICY {t}_insert ON public.{t} WITH CHECK (true)", "INSERT {t}"),
    "triggers disabled": ("ALTER TABLE public.{t} DISABLE TRIGGER USER", "{t}"),
    "house_id trigger dropped": ("DROP TRIGGER {t}_inherit_house_id ON public.{t}", "INSERT {t}"),
}


@pytest.mark.parametrize("table", ["labels", "notes"])
@pytest.mark.parametrize("how", list(BREAKS))
def test_each_break_of_a_user_table_turns_rls_test_red(scaffolded, table, how):
    project, dsn, perms = scaffolded
    statement, seen = BREAKS[how]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(statement.format(t=table))
    with pytest.raises(Disagreement, match=seen.format(t=table)):
        _property(dsn, perms)


def test_a_rule_the_nine_do_not_use_members_write_keys_read_nothing(project, empty_dsn):
    new_table(project, "tasks", parent="agents", write="member")
    commands.apply(project, empty_dsn)
    perms = load_permissions(project)
    assert perms["tasks"].write == "member" and perms["tasks"].agent_key.read == ()
    _property(empty_dsn, perms)
    with psycopg.connect(empty_dsn, autocommit=True) as conn:  # its policy back to admins: red
        conn.execute("ALTER POLICY tasks_update ON public.tasks "
                     "USING (house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('admin'))))")
    with pytest.raises(Disagreement, match="tasks"):
        _property(empty_dsn, perms)


def test_the_matrix_holds_user_tables_to_their_declarations(scaffolded):
    """The matrix finds labels and notes and judges them by their declarations: none as
    generated; a SELECT opened to everyone is named, cell by cell."""
    project, dsn, perms = scaffolded
    found = probe_matrix(dsn)
    assert {"labels", "notes"} <= {probe.table for probe, _ in found.rows}
    assert departures(found, perms) == []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("ALTER POLICY notes_select ON public.notes USING (true)")
    assert departures(probe_matrix(dsn), perms) == [
        f"notes select as {caller}: the database says yes, the declaration says no"
        for caller in ("non-member", "agent key", "house key")]


def test_a_table_with_rls_and_no_declaration_fails_rls_test_in_one_line(project, empty_dsn):
    new_table(project, "labels", parent="agents")
    commands.apply(project, empty_dsn)
    perms = load_permissions(project)
    del perms.tables["labels"]
    with pytest.raises(ArbedbError, match=r"^public\.labels has row level security but no declaration in "
                                          r"policies/permissions\.toml; add \[tables\.labels\]"):
        _property(empty_dsn, perms)
    with psycopg.connect(empty_dsn, autocommit=True) as conn:  # and allowed again once declared
        conn.execute("SELECT 1")
    _property(empty_dsn, load_permissions(project))


def test_verify_and_lint_name_a_table_with_rls_and_no_declaration(project, empty_dsn):
    from arbedb.lint import lint
    from arbedb.verify import verify

    new_table(project, "labels", parent="agents")
    commands.apply(project, empty_dsn)
    path = project.root / "policies" / "permissions.toml"
    declared = path.read_text()
    path.write_text(declared[:declared.index("[tables.labels]")])

    def arb024(findings):
        return [f.line_text() for f in findings if f.code == "ARB024"]

    live = arb024(verify(project, empty_dsn, skip=("drift", "pgrls", "electric", "data_api")).findings)
    assert len(live) == 1 and "public.labels has row level security but no declaration" in live[0]
    assert len(arb024(lint(project, engines=("arbedb",)).errors)) == 1
    path.write_text(declared)  # declared again: both quiet
    assert arb024(verify(project, empty_dsn, skip=("drift", "pgrls", "electric", "data_api")).findings) == []
    assert arb024(lint(project, engines=("arbedb",)).errors) == []


def test_a_declaration_naming_an_unknown_column_is_one_line(project, empty_dsn):
    commands.apply(project, empty_dsn)
    path = project.root / "policies" / "permissions.toml"
    path.write_text(path.read_text().replace('columns = ["name", "created_by"]\nimmutable = ["house_id", "created_by"]\n'
                                             'values = { name = "agent-{tag}"',
                                             'columns = ["name", "created_by", "colour"]\nimmutable = ["house_id", '
                                             '"created_by"]\nvalues = { name = "agent-{tag}"', 1))
    with pytest.raises(ArbedbError, match=r"^policies/permissions\.toml: tables\.agents names column\(s\) colour "
                                          r"that public\.agents does not have; fix the declaration$"):
        _property(empty_dsn, load_permissions(project))


@pytest.mark.parametrize("text, message", [
    ('read = "guest"', "read = 'guest' is not a house role"),
    ('parents = [{ column = "agent_id", table = "robots" }]', "parent 'robots' (for agent_id) is not declared"),
    ('agent_key = { read = ["agent"] }', "has no parent in agents"),
    ('colour = "red"', "unknown key(s) colour"),
])
def test_a_bad_declaration_is_one_line(text, message):
    from arbedb.permissions import parse_permissions

    base = (ROOT / "policies" / "permissions.toml").read_text()
    with pytest.raises(ArbedbError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        parse_permissions(base + f'\n[tables.labels]\ncolumns = ["agent_id"]\n{text}\n')


def test_mutate_kills_the_user_tables_mutants(scaffolded, arbedb_cluster):
    """`rls-test --mutate`'s mutants of labels (policies, triggers, role, all triggers off), derived
    from the project's files and declarations, are killed like the nine tables' are."""
    from arbedb.rls.mutants import derive, run_mutants

    project, dsn, perms = scaffolded
    mutants = [m for m in derive(project, perms) if "labels" in m.name]
    names = {m.name for m in mutants}
    assert {"policy labels_select: USING (true)", "policy labels_insert: WITH CHECK (true)",
            "policy labels_update: role widened to member", "table public.labels: triggers disabled",
            "trigger labels_inherit_house_id: dropped"} <= names
    template = arbedb_cluster.create_template(project)
    try:
        verdicts = run_mutants(arbedb_cluster.admin_dsn, template, mutants, perms, examples=WORLDS, seed_value=0,
                               jobs=2, project=project)  # the electric role's mutants need what is not a caller's view
    finally:
        arbedb_cluster.drop_database(template)
    survivors = [f"{v.mutant.name}: {v.reason}" for v in verdicts if not v.killed]
    assert survivors == []
    print("\n".join(f"killed {v.mutant.name}: {v.reason[:100]}" for v in verdicts))


def test_agent_shapes_come_from_the_key_declarations(project):
    """electric/shapes.toml's key shapes are held to the declarations: one a declaration
    gives and the file lacks is one line saying what to add; one it does not give, one line too."""
    from arbedb.electric.shapes import load_shapes

    new_table(project, "labels", parent="agents")
    assert [s.name for s in load_shapes(project).table("labels").shapes] == ["house"]  # keys get nothing
    path = project.root / "policies" / "permissions.toml"
    text = path.read_text()
    assert text.endswith('immutable = ["house_id", "created_by"]\n')  # labels' declaration, last
    path.write_text(text + 'agent_key = { read = ["agent"] }\n')
    text = path.read_text()
    with pytest.raises(ArbedbError, match=r'tables\.labels: its permission declaration gives API keys the shape '
                                          r'"agent"; add \[tables\.labels\.shapes\.agent\] caller = "key", '
                                          r'where = "house_id = \$1 AND agent_id = \$2 AND deleted_at IS NULL"'):
        load_shapes(project)
    shapes = project.root / "electric" / "shapes.toml"
    shapes.write_text(shapes.read_text() + '\n[tables.labels.shapes.agent]\ncaller = "key"\n'
                      'where = "house_id = $1 AND agent_id = $2 AND deleted_at IS NULL"\nparams = ["house", "agent"]\n')
    assert [s.name for s in load_shapes(project).table("labels").shapes] == ["house", "agent"]
    path.write_text(text.replace('agent_key = { read = ["agent"] }\n', ""))  # and taken away again: the shape goes too
    with pytest.raises(ArbedbError, match=r"tables\.labels\.shapes\.agent: a key shape its permission declaration"):
        load_shapes(project)
