"""`arbedb matrix`: found by executing, compared with SPEC §5; markdown and a one-page HTML."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from conftest import ROOT, assert_same_catalog, snapshot
from matrix_spec import SPEC_5, differences

from arbedb.matrix.declared import departures
from arbedb.matrix.probe import CALLERS, probe_matrix
from arbedb.permissions import load_permissions
from arbedb.matrix.render import render_html, render_markdown

ARTIFACTS = ROOT / "artifacts"


def test_the_enforced_matrix_is_spec_section_5(arbedb_dsn):
    matrix = probe_matrix(arbedb_dsn)
    assert matrix.unclear() == []
    assert differences(matrix.allowed()) == []


def test_a_loosened_policy_shows_in_the_matrix(arbedb_dsn):
    """Twin of the test above: the matrix reports what the database does, not what the SPEC hopes."""
    with psycopg.connect(arbedb_dsn) as conn:
        conn.execute("DROP POLICY agents_insert ON public.agents")
        conn.execute("CREATE POLICY agents_insert ON public.agents FOR INSERT TO authenticated "
                     "WITH CHECK (house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('member'))))")
        conn.execute("GRANT DELETE ON public.threads TO authenticated")
        conn.execute("CREATE POLICY threads_delete ON public.threads FOR DELETE TO authenticated USING (true)")
    assert differences(probe_matrix(arbedb_dsn).allowed()) == [
        "agents insert: database allows ['admin', 'member', 'owner', 'service_role'], "
        "SPEC §5 ['admin', 'owner', 'service_role']",
        # Not the non-member (nor the house key): a DELETE ... WHERE also needs the row to pass the SELECT policy.
        "threads delete: database allows ['admin', 'agent key', 'member', 'owner', 'service_role'], "
        "SPEC §5 ['service_role']",
    ]


def test_the_database_keeps_the_declarations(arbedb_dsn, arbedb_project):
    """What the matrix finds agrees with policies/permissions.toml wherever the declaration
    alone decides the cell (matrix/declared.py)."""
    assert departures(probe_matrix(arbedb_dsn), load_permissions(arbedb_project)) == []


def test_a_policy_that_departs_from_its_declaration_is_named(arbedb_dsn, arbedb_project):
    with psycopg.connect(arbedb_dsn) as conn:
        conn.execute("DROP POLICY agents_insert ON public.agents")
        conn.execute("CREATE POLICY agents_insert ON public.agents FOR INSERT TO authenticated "
                     "WITH CHECK (house_id = ANY (ARRAY(SELECT arbe.caller_house_ids('member'))))")
        conn.execute("DROP POLICY environments_select ON public.environments")
        conn.execute("CREATE POLICY environments_select ON public.environments FOR SELECT TO authenticated "
                     "USING (true)")
        conn.execute("CREATE TABLE public.undeclared (id uuid PRIMARY KEY, house_id uuid, deleted_at timestamptz)")
    assert departures(probe_matrix(arbedb_dsn), load_permissions(arbedb_project)) == [
        "undeclared: no declaration in policies/permissions.toml; add one (docs/model.md §7)",
        "agents insert as member: the database says yes, the declaration says no",
        "environments select as non-member: the database says yes, the declaration says no",
    ]


def test_probing_leaves_the_database_as_it_was(arbedb_dsn):
    def counts():
        with psycopg.connect(arbedb_dsn) as conn:
            return [conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                    for t in ("auth.users", "public.houses", "public.members", "public.agents", "public.invites")]

    before, rows = snapshot(arbedb_dsn), counts()
    probe_matrix(arbedb_dsn)
    assert_same_catalog(before, snapshot(arbedb_dsn))
    assert counts() == rows == [0, 0, 0, 0, 0]


def test_cli_prints_a_markdown_table(arbedb_dsn, arbedb_project):
    proc = subprocess.run([sys.executable, "-m", "arbedb.cli", "matrix", "--dsn", arbedb_dsn],
                          cwd=arbedb_project.root, capture_output=True, text=True, check=True)
    assert "| table" in proc.stdout and f"{'| ' + ' | '.join(CALLERS)}" not in proc.stderr
    row = next(line for line in proc.stdout.splitlines() if re.match(r"\| houses +\| soft delete", line))
    assert [c.strip() for c in row.strip("|").split("|")][2:] == ["no", "no", "no", "no", "yes", "no", "no", "yes"]
    assert len([line for line in proc.stdout.splitlines() if line.startswith("| ")]) == len(SPEC_5) + 1


def test_markdown_says_why_a_cell_could_not_be_probed(arbedb_dsn):
    with psycopg.connect(arbedb_dsn) as conn:  # a sample row for configs can no longer be made
        conn.execute("ALTER TABLE public.configs ADD CONSTRAINT never CHECK (false) NOT VALID")
    matrix = probe_matrix(arbedb_dsn)
    assert {cells["member"].mark for probe, cells in matrix.rows if probe.table == "configs"} == {"?"}
    notes = render_markdown(matrix).split("Not probed:\n")[1]
    assert "- configs select as member: no sample row could be made (new row for relation" in notes


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def test_html_is_one_page_and_renders_in_headless_chromium(arbedb_dsn):
    page = render_html(probe_matrix(arbedb_dsn))
    # Self-contained: nothing fetched from anywhere.
    assert not re.search(r"""\b(src|href)\s*=|@import|url\(""", page)
    ARTIFACTS.mkdir(exist_ok=True)
    html = ARTIFACTS / "matrix.html"
    html.write_text(page)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed here (CI installs it: apt-get install chromium)")
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    dom = subprocess.run([*flags, "--dump-dom", html.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert dom.count("<tr") == len(SPEC_5) + 1
    assert dom.count('class="yes"') == sum(len(v) for v in SPEC_5.values())
    shot = ARTIFACTS / "matrix.png"
    shot.unlink(missing_ok=True)
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1100,1900", html.as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert _png_size(shot) == (1100, 1900) and shot.stat().st_size > 20_000


def test_html_shows_every_explanation_and_a_coloured_legend(arbedb_dsn):
    """Nothing only on hover: each cell's number is a reason listed on the page; the legend's
    marks carry the cells' colours."""
    from html.parser import HTMLParser

    from arbedb.matrix.render import _PAGE

    matrix = probe_matrix(arbedb_dsn)
    page = render_html(matrix)
    reasons = re.findall(r"<ol class=\"why\">(.*?)</ol>", page, re.S)[0]
    listed = re.findall(r"<li>(.*?)</li>", reasons)
    cells = re.findall(r'<td class="(?:yes|no|na|unclear)" title="([^"]*)">[^<]*<sup>(\d+)</sup></td>', page)
    assert len(cells) == len(matrix.rows) * len(CALLERS)
    assert all(listed[int(note) - 1] == title for title, note in cells)
    assert "row-level security: row not visible" in listed
    legend = re.findall(r'<span class="swatch (\w+)">([^<]+)</span>', page)
    assert [mark for _, mark in legend] == ["yes", "no", "–", "?"]
    for css, _ in legend:  # each swatch's class has a background of its own
        assert re.search(rf"^\s*\.{css} {{ background: #[0-9a-f]{{6}};", _PAGE, re.M), css
    HTMLParser().feed(page)


def test_the_update_probe_changes_the_value(arbedb_dsn):
    """A probe writing a column back unchanged proves nothing: the agent key may not change a
    thread's kind, and the matrix must say so."""
    allowed = probe_matrix(arbedb_dsn).allowed()
    assert "agent key" not in allowed[("threads", "update kind")]
    assert allowed[("members", "update role")] == {"admin", "owner", "service_role"}
