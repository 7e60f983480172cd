"""The tool's own speed, guarded where it can silently regress: what each command imports, and the
sqlfluff cache (lint/fluffcache.py), which may make lint fast but must never hide a finding."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from revisions import NEXT, REVISIONS
from test_cli_errors import AFTER, _add_revision
from test_lint import BROKEN_UP, DOWN, UP, make_project

from arbedb.lint import fluff, lint
from arbedb.lint.fluffcache import _checksum
from conftest import ROOT

CLEAN_UP = """\
-- Electric: nothing here is synced.
CREATE TABLE public.labels (
    id uuid PRIMARY KEY,
    house_id uuid NOT NULL,
    deleted_at timestamptz
);
"""
# What no command should pay for unless it uses it: the property tests' and the reports' libraries.
NEVER_AT_START = ("sqlfluff", "hypothesis", "jinja2", "rich", "alembic", "sqlalchemy")
# apply runs the template's revisions itself (engine/direct.py): alembic and SQLAlchemy were half its time.
NEVER_IN_APPLY = ("sqlfluff", "hypothesis", "jinja2", "rich", "alembic", "sqlalchemy", "mako")


def _loaded_after(code: str, *, cwd=ROOT) -> tuple[list[str], str]:
    """Run ``code`` in a fresh interpreter; which top-level packages it loaded, and its output."""
    probe = code + "\nimport sys, json\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    out = subprocess.run([sys.executable, "-c", probe], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    *lines, modules = out.stdout.strip().splitlines()
    return json.loads(modules), "\n".join(lines) + out.stderr


def _cli(*argv: str) -> str:
    return ("from arbedb.cli import main\n"
            "try:\n"
            f"    main({list(argv)!r})\n"
            "except SystemExit as exc:\n"
            "    assert not exc.code, exc.code\n")


def test_importing_the_cli_loads_no_heavy_library():
    loaded, _ = _loaded_after("import arbedb.cli")
    assert "click" in loaded  # the probe sees imports at all
    assert not set(NEVER_AT_START) & set(loaded)


def test_apply_loads_only_what_it_needs(empty_dsn):
    loaded, output = _loaded_after(_cli("apply", "--dsn", empty_dsn))
    assert f"upgrade {REVISIONS[0]}" in output and "at " in output and "psycopg" in loaded  # it did apply
    assert not set(NEVER_IN_APPLY) & set(loaded)


@pytest.fixture
def sqlfluff_runs(monkeypatch):
    """The files each lint handed to sqlfluff itself (not answered from the cache)."""
    calls: list[list[str]] = []
    real = fluff._run

    def counting(root, paths):
        calls.append(sorted(paths))
        return real(root, paths)

    monkeypatch.setattr(fluff, "_run", counting)
    return calls


def _style(project) -> set[tuple[str, str, int]]:
    return {(f.code, f.path, f.line) for f in lint(project, engines=("sqlfluff",)).findings}


def test_unchanged_files_are_answered_from_the_cache(tmp_path, sqlfluff_runs):
    project = make_project(tmp_path / "p", {UP: BROKEN_UP, DOWN: "DROP TABLE public.labels;\n"})
    first = _style(project)
    assert ("sqlfluff:CP01", UP, 7) in first
    assert _style(project) == first
    assert sqlfluff_runs == [sorted([UP, DOWN])]  # the second lint never ran sqlfluff
    assert lint(project, engines=("sqlfluff",), cache=False).findings
    assert len(sqlfluff_runs) == 2


def test_a_changed_file_is_linted_again(tmp_path, sqlfluff_runs):
    project = make_project(tmp_path / "p", {UP: CLEAN_UP, DOWN: "DROP TABLE public.labels;\n"})
    assert not _style(project)
    (project.root / UP).write_text(BROKEN_UP)  # same path, same size class: only the content tells
    assert ("sqlfluff:CP01", UP, 7) in _style(project)
    assert sqlfluff_runs[-1] == [UP]  # and only that file


def test_a_changed_config_relints_every_file(tmp_path, sqlfluff_runs):
    project = make_project(tmp_path / "p", {UP: CLEAN_UP, DOWN: "DROP TABLE public.labels;\n"})
    assert not _style(project)
    config = project.root / ".sqlfluff"
    config.write_text(config.read_text().replace("capitalisation_policy = upper", "capitalisation_policy = lower"))
    assert {p for code, p, _ in _style(project) if code == "sqlfluff:CP01"} == {UP, DOWN}
    assert sqlfluff_runs[-1] == sorted([UP, DOWN])


def test_a_config_in_a_subfolder_counts_too(tmp_path):
    project = make_project(tmp_path / "p", {UP: CLEAN_UP, DOWN: "DROP TABLE public.labels;\n"})
    assert not _style(project)
    (project.root / "migrations" / ".sqlfluff").write_text(
        "[sqlfluff:rules:capitalisation.keywords]\ncapitalisation_policy = lower\n")
    assert ("sqlfluff:CP01", UP, 2) in _style(project)


@pytest.mark.parametrize("damage", ["truncated", "emptied", "other key", "not json"])
def test_a_damaged_cache_never_hides_a_finding(tmp_path, damage):
    project = make_project(tmp_path / "p", {UP: BROKEN_UP, DOWN: "DROP TABLE public.labels;\n"})
    first = _style(project)
    entries = list((project.root / ".arbedb" / "cache" / "sqlfluff").glob("*.json"))
    assert len(entries) == 2
    for entry in entries:
        data = json.loads(entry.read_text())
        if damage == "truncated":
            entry.write_text(entry.read_text()[:40])
        elif damage == "emptied":  # findings dropped, checksum left as it was
            entry.write_text(json.dumps({**data, "violations": []}))
        elif damage == "other key":  # a well-formed, consistent entry for other content: no findings
            entry.write_text(json.dumps({"key": "0" * 64, "sha256": _checksum("0" * 64, []), "violations": []}))
        else:
            entry.write_bytes(b"\xff\x00")
    assert _style(project) == first


def test_lint_judges_a_plain_history_without_alembic(project_copy):
    loaded, _ = _loaded_after(_cli("lint", "--engine", "arbedb"), cwd=project_copy.root)
    assert "pglast" in loaded and not {"alembic", "sqlalchemy"} & set(loaded)


def test_a_lint_where_nothing_changed_never_loads_sqlfluff(project_copy):
    first, _ = _loaded_after(_cli("lint"), cwd=project_copy.root)
    again, output = _loaded_after(_cli("lint"), cwd=project_copy.root)
    assert "sqlfluff" in first and "0 error(s)" in output
    assert not {"sqlfluff", "alembic", "sqlalchemy"} & set(again)


# Histories the revision files' literals cannot vouch for: alembic judges them, as before.
ODD_HISTORIES = {
    "a parent nobody declares": ({NEXT: "9999"}, r"a down_revision names revision 9999, which no file declares"),
    "a loop beside the line": ({NEXT: AFTER, AFTER: NEXT}, rf"Cycle is detected in revisions \({NEXT}, {AFTER}\)"),
}


@pytest.mark.parametrize("history", ODD_HISTORIES)
def test_a_history_only_alembic_can_judge_is_still_judged(project_copy, history):
    from arbedb.engine.history import problems

    edges, pattern = ODD_HISTORIES[history]
    for rev, down in edges.items():
        _add_revision(project_copy, rev, down, f"{rev}_x")
    found = problems(project_copy)
    assert found and re.search(pattern, found[0].line()), found


def test_a_file_saved_while_sqlfluff_runs_is_not_cached(tmp_path, monkeypatch):
    project = make_project(tmp_path / "p", {UP: BROKEN_UP, DOWN: "DROP TABLE public.labels;\n"})
    real = fluff._run

    def fixed_during_the_run(root, paths):  # keyed broken, but sqlfluff reads the fixed file
        (root / UP).write_text(CLEAN_UP)
        return real(root, paths)

    monkeypatch.setattr(fluff, "_run", fixed_during_the_run)
    _style(project)
    monkeypatch.setattr(fluff, "_run", real)
    (project.root / UP).write_text(BROKEN_UP)  # broken again: the clean file's answer must not be taken
    assert ("sqlfluff:CP01", UP, 7) in _style(project)
