"""electric/10_publication.sql: the publication Electric streams from, converged by every apply."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from arbedb import commands
from arbedb.electric import publication as electric
from arbedb.errors import ArbedbError
from arbedb.electric.shapes import load_shapes
from arbedb.verify import electric as electric_checks

PUBLICATION_SQL = "electric/10_publication.sql"


def published(conn, pub="electric_publication_default") -> dict[str, tuple]:
    """{table: (row filter?, column list?, replica identity)} of ``pub``."""
    rows = conn.execute("""
        SELECT pr.prrelid::regclass::text, pr.prqual IS NOT NULL, pr.prattrs IS NOT NULL, c.relreplident::text
        FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid JOIN pg_class c ON c.oid = pr.prrelid
        WHERE p.pubname = %s""", (pub,)).fetchall()
    return {name if "." in name else f"public.{name}": tuple(rest) for name, *rest in rows}


def test_publication_holds_exactly_the_declared_tables_whole_with_full_identity(arbedb_conn, arbedb_project):
    declared = load_shapes(arbedb_project).qualified_names
    assert published(arbedb_conn) == {t: (False, False, "f") for t in declared}
    ops = arbedb_conn.execute("SELECT puballtables, pubinsert, pubupdate, pubdelete, pubtruncate FROM pg_publication "
                              "WHERE pubname = 'electric_publication_default'").fetchone()
    assert ops == (False, True, True, True, True)
    assert electric_checks.checks(arbedb_conn, arbedb_project) == []


def test_apply_converges_a_publication_altered_by_hand(arbedb_conn, arbedb_dsn, arbedb_project):
    arbedb_conn.execute("""
        ALTER PUBLICATION electric_publication_default DROP TABLE public.agents;
        ALTER PUBLICATION electric_publication_default ADD TABLE arbe_private.invite_tokens;
        ALTER PUBLICATION electric_publication_default SET (publish = 'insert');
        ALTER PUBLICATION electric_publication_default DROP TABLE public.configs;
        ALTER PUBLICATION electric_publication_default ADD TABLE public.configs (id, house_id) WHERE (key <> 'x');
        ALTER TABLE public.threads REPLICA IDENTITY DEFAULT;
    """)
    arbedb_conn.commit()
    assert {f.code for f in electric_checks.checks(arbedb_conn, arbedb_project)} == {
        "ELE004", "ELE005", "ELE006", "ELE007", "ELE008", "ELE030"}
    arbedb_conn.rollback()

    commands.apply(arbedb_project, arbedb_dsn, redeclare=True)
    declared = load_shapes(arbedb_project).qualified_names
    assert published(arbedb_conn) == {t: (False, False, "f") for t in declared}
    assert electric_checks.checks(arbedb_conn, arbedb_project) == []


def test_apply_with_nothing_to_change_takes_no_table_lock(arbedb_conn, arbedb_dsn, arbedb_project):
    """Re-applying an already converged publication must not queue behind (or block) traffic."""
    arbedb_conn.execute("LOCK TABLE public.agents IN ROW EXCLUSIVE MODE")  # as a writer holds it
    with psycopg.connect(arbedb_dsn) as other:
        other.execute("SET lock_timeout = '2s'")
        other.execute(electric.prelude_sql(arbedb_project))  # what the apply prelude hands the file
        other.execute((arbedb_project.root / PUBLICATION_SQL).read_text())


def test_a_table_taken_out_of_the_declarations_leaves_the_publication(project_copy, empty_dsn):
    """The synced tables are declared once, in shapes.toml: taking one out there is
    all it takes, the next apply notices the file changed and converges."""
    import tomlkit

    from arbedb.electric.shapes import shapes_path

    commands.apply(project_copy, empty_dsn)
    path = shapes_path(project_copy)
    doc = tomlkit.parse(path.read_text())
    del doc["tables"]["api_keys"]
    path.write_text(tomlkit.dumps(doc))
    assert commands.status(project_copy, empty_dsn).declarative.changed == ["electric/shapes.toml"]
    assert commands.apply(project_copy, empty_dsn).declarative  # re-applied without --redeclare
    with psycopg.connect(empty_dsn) as conn:
        assert "public.api_keys" not in published(conn)
        assert "public.invites" in published(conn)
        # Electric's role no longer reads it either, and the two agree again.
        assert electric_checks.checks(conn, project_copy) == []
        assert not conn.execute("SELECT has_table_privilege('electric', 'public.api_keys', 'SELECT')").fetchone()[0]


def test_the_publication_name_comes_from_the_project(project_copy, empty_dsn):
    pyproject = project_copy.root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("[tool.arbedb]\n", "[tool.arbedb]\npublication = \"arbe_sync\"\n"))
    from arbedb.config import find_project

    project = find_project(project_copy.root)
    assert project.publication == "arbe_sync"
    commands.apply(project, empty_dsn)
    with psycopg.connect(empty_dsn) as conn:
        assert set(published(conn, "arbe_sync")) == load_shapes(project).qualified_names
        assert electric_checks.checks(conn, project) == []


def test_for_all_tables_publication_is_refused_with_the_fix(arbedb_conn, arbedb_dsn, arbedb_project):
    arbedb_conn.execute("DROP PUBLICATION electric_publication_default")
    arbedb_conn.execute("CREATE PUBLICATION electric_publication_default FOR ALL TABLES")
    arbedb_conn.commit()
    with pytest.raises(ArbedbError, match="FOR ALL TABLES.*DROP PUBLICATION electric_publication_default"):
        commands.apply(arbedb_project, arbedb_dsn, redeclare=True)


def test_a_table_joins_only_after_every_open_writer_of_it_finished(arbedb_conn, arbedb_dsn, arbedb_project):
    """SHARE lock: a writer still open when the table is added cannot slip past snapshot and stream."""
    arbedb_conn.execute("ALTER PUBLICATION electric_publication_default DROP TABLE public.houses")
    arbedb_conn.commit()
    writer = psycopg.connect(arbedb_dsn)
    writer.execute("INSERT INTO public.houses (id, house_id, name) VALUES (gen_random_uuid(), gen_random_uuid(), 'w')"
                   " RETURNING id")  # left open: holds ROW EXCLUSIVE on houses

    done = threading.Event()
    errors: list[BaseException] = []

    def add_table():
        try:
            with psycopg.connect(arbedb_dsn) as conn:
                conn.execute(electric.prelude_sql(arbedb_project))
                conn.execute((arbedb_project.root / PUBLICATION_SQL).read_text())
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=add_table)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        waiting = False
        while time.monotonic() < deadline and not done.is_set() and not waiting:
            waiting = arbedb_conn.execute("""
                SELECT EXISTS (SELECT FROM pg_locks WHERE relation = 'public.houses'::regclass
                               AND mode = 'ShareLock' AND NOT granted)""").fetchone()[0]
            arbedb_conn.rollback()
            time.sleep(0.05)
        assert waiting, "the publication change did not wait for the open writer (LOCK TABLE ... IN SHARE MODE)"
        assert "public.houses" not in published(arbedb_conn)
        arbedb_conn.rollback()
    finally:
        writer.commit()
        writer.close()
        thread.join(30)
    assert not errors, errors
    assert "public.houses" in published(arbedb_conn)


def test_a_project_without_the_electric_layer_applies(project_copy, empty_dsn):
    """shapes.toml is what electric/ publishes; without that layer, nothing needs it."""
    import shutil

    from arbedb.config import find_project

    shutil.rmtree(project_copy.root / "electric")
    pyproject = project_copy.root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(
        'declarative = ["policies", "triggers", "electric"]', 'declarative = ["policies", "triggers"]'))
    project = find_project(project_copy.root)
    commands.apply(project, empty_dsn)
    with psycopg.connect(empty_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM pg_policies WHERE tablename = 'threads'").fetchone()[0] == 3
        assert conn.execute("SELECT count(*) FROM pg_publication").fetchone()[0] == 0


def test_the_publication_refuses_an_empty_list_of_synced_tables(project_copy, empty_dsn):
    (project_copy.root / "electric" / "shapes.toml").unlink()
    with pytest.raises(ArbedbError, match="electric/10_publication.sql.*no synced tables.*electric/shapes.toml"):
        commands.apply(project_copy, empty_dsn)
