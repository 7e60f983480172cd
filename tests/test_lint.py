"""`arbedb lint` end to end: engines, inline ignores, exit codes, every output format parsed back."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from arbedb.cli import main
from arbedb.config import find_project
from arbedb.lint import as_report, lint
from arbedb.reporting import render

ROOT = Path(__file__).resolve().parents[1]
UP = "migrations/versions/0001_labels.up.sql"
DOWN = "migrations/versions/0001_labels.down.sql"

# Breaks one rule of each engine: a style rule (keyword case), a squawk hazard
# (CONCURRENTLY inside the apply transaction) and an arbedb rule (no RLS).
BROKEN_UP = """\
-- Electric: nothing here is synced.
CREATE TABLE public.labels (
    id uuid PRIMARY KEY,
    house_id uuid NOT NULL,
    deleted_at timestamptz
);
create index concurrently labels_house_live_idx ON public.labels (house_id) WHERE deleted_at IS NULL;
"""


def make_project(root: Path, files: dict[str, str]):
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text('[project]\nname = "t"\n\n[tool.arbedb]\n')
    for config in (".sqlfluff", ".squawk.toml"):
        shutil.copy(ROOT / config, root / config)
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return find_project(root)


@pytest.fixture
def broken(tmp_path):
    return make_project(tmp_path / "p", {UP: BROKEN_UP, DOWN: "DROP TABLE public.labels;\n"})


def codes(result) -> set[str]:
    return {f.code for f in result.findings}


def test_each_engine_reports_with_file_line_and_column(broken):
    result = lint(broken)
    by_code: dict = {}
    for finding in result.findings:  # sorted by position: keep each code's first
        by_code.setdefault(finding.code, finding)
    assert {"sqlfluff:CP01", "squawk:ban-concurrent-index-creation-in-transaction", "ARB002"} <= set(by_code)
    assert (by_code["sqlfluff:CP01"].path, by_code["sqlfluff:CP01"].line, by_code["sqlfluff:CP01"].col) == (UP, 7, 1)
    squawk = by_code["squawk:ban-concurrent-index-creation-in-transaction"]
    assert (squawk.path, squawk.line) == (UP, 7)
    assert (by_code["ARB002"].path, by_code["ARB002"].line) == (UP, 2)
    assert all(f.fix for f in result.findings) and result.errors


def test_downgrade_and_declarative_files_skip_the_rules_that_do_not_apply(tmp_path):
    drop = "DROP TABLE public.gone;\n"
    project = make_project(tmp_path, {UP: drop, DOWN: drop, "policies/10_x.sql": "CREATE INDEX i ON public.t (a);\n"})
    found = {(f.path, f.code) for f in lint(project, engines=("squawk",)).findings}
    assert (UP, "squawk:ban-drop-table") in found
    assert (DOWN, "squawk:ban-drop-table") not in found
    # prefer-robust-stmts applies to revisions only; ARB019 judges declarative files instead.
    assert not any(path == "policies/10_x.sql" and code == "squawk:prefer-robust-stmts" for path, code in found)


def test_large_files_are_not_skipped(tmp_path):
    filler = "".join(f"-- line {i} of a long comment block that pads this file well past twenty kilobytes\n"
                     for i in range(400))
    project = make_project(tmp_path, {"policies/10_big.sql": filler + "select 1;\n"})
    assert len(filler) > 20_000
    found = lint(project, engines=("sqlfluff",)).findings
    assert any(f.code == "sqlfluff:CP01" and f.line == 401 for f in found), [f.line_text() for f in found]


def test_parse_error_names_line_and_column(tmp_path):
    project = make_project(tmp_path, {"policies/10_x.sql": "SELECT 1;\nCREATE TABLE t (a int,,);\n"})
    (finding,) = [f for f in lint(project, engines=("arbedb",)).findings if f.code == "ARB000"]
    assert (finding.line, finding.col) == (2, 23)


def test_ignore_with_reason_silences_only_its_statement(broken):
    up = broken.root / UP
    text = up.read_text().replace(
        "CREATE TABLE public.labels (",
        "-- arbedb: ignore ARB002, ARB003 because labels is a scratch table dropped in the next revision\n"
        "CREATE TABLE public.labels (")
    up.write_text(text + "CREATE TABLE public.notes (id uuid PRIMARY KEY);\n")
    result = lint(broken)
    arb002 = [f for f in result.findings if f.code == "ARB002"]
    assert [f.message for f in arb002] == ["table public.notes does not have row level security enabled"]
    assert result.silenced >= 2


def test_ignore_without_reason_is_an_error_and_ignores_nothing(broken):
    up = broken.root / UP
    up.write_text(up.read_text().replace("CREATE TABLE public.labels (",
                                         "CREATE TABLE public.labels ( -- arbedb: ignore ARB002\n"))
    result = lint(broken)
    assert {"ARB098", "ARB002"} <= codes(result)


def test_unused_ignore_is_a_warning(tmp_path):
    project = make_project(tmp_path, {"policies/10_x.sql": "-- arbedb: ignore ARB004 because nothing\nSELECT 1;\n"})
    (unused,) = [f for f in lint(project).findings if f.code == "ARB099"]
    assert unused.severity == "warning" and unused.line == 1


def test_ignore_covers_other_engines(broken):
    up = broken.root / UP
    up.write_text(up.read_text().replace(
        "create index", "-- arbedb: ignore CP01, squawk:ban-concurrent-index-creation-in-transaction "
                        "because this fixture exercises ignores\ncreate index"))
    assert not {"sqlfluff:CP01", "squawk:ban-concurrent-index-creation-in-transaction"} & codes(lint(broken))


def test_paths_limit_the_report(broken):
    (broken.root / "policies").mkdir()
    (broken.root / "policies/10_x.sql").write_text("select 2;\n")
    only = lint(broken, [str(broken.root / "policies")])
    assert only.files == 1 and {f.path for f in only.findings} == {"policies/10_x.sql"}


# -- output formats, each parsed back ---------------------------------------------------------

@pytest.fixture
def report(broken):
    up = broken.root / UP
    up.write_text(up.read_text() + "-- arbedb: ignore ARB004 because unused, to get a warning too\nSELECT 1;\n")
    rep = as_report(lint(broken))
    assert rep.errors and rep.warnings
    return rep


def test_text_format(report):
    lines = render(report, "text").splitlines()
    pattern = re.compile(r"^(?P<path>[\w/.]+):(?P<line>\d+):(?P<col>\d+): (?P<code>\S+) .+; fix: .+")
    parsed = [pattern.match(line).groupdict() for line in lines[:-1]]
    assert [(p["path"], int(p["line"]), int(p["col"]), p["code"]) for p in parsed] == [
        (f.path, f.line, f.col, f.code) for f in report.findings]
    assert lines[-1].startswith(f"arbedb lint: {report.errors} error(s), {report.warnings} warning(s)")


def test_json_format(report):
    data = json.loads(render(report, "json"))
    assert data["findings"] == [f.as_dict() for f in report.findings]
    assert data["summary"]["errors"] == report.errors and data["tool"] == "arbedb lint"


def test_sarif_format_is_valid_sarif(report):
    from pydantic_sarif.model import StaticAnalysisResultsFormatSarifVersion210JsonSchema as SarifLog

    raw = json.loads(render(report, "sarif"))
    log = SarifLog.model_validate(raw)  # the schema's required fields, types, and no unknown keys
    assert log.version.value == "2.1.0"
    (run,) = log.runs
    rules = [r.id for r in run.tool.driver.rules]
    assert len(run.results) == len(report.findings)
    for result, finding in zip(run.results, report.findings):
        assert result.ruleId == finding.code and rules[result.ruleIndex] == finding.code
        region = result.locations[0].physicalLocation.region
        assert result.locations[0].physicalLocation.artifactLocation.uri == finding.path
        assert (region.startLine, region.startColumn) == (finding.line, finding.col)
        assert result.level.value == finding.severity
    described = {r.id: r.shortDescription for r in run.tool.driver.rules}
    assert described["ARB002"] is not None


def _unescape(value: str) -> str:
    return value.replace("%0D", "\r").replace("%0A", "\n").replace("%3A", ":").replace("%2C", ",").replace("%25", "%")


def test_github_format(report):
    command = re.compile(r"^::(?P<kind>error|warning) (?P<props>[^:]*)::(?P<message>.*)$")
    lines = render(report, "github").splitlines()
    for line, finding in zip(lines, report.findings):
        match = command.match(line)
        assert match, line
        props = dict(p.split("=", 1) for p in match["props"].split(","))
        assert match["kind"] == finding.severity
        assert (_unescape(props["file"]), int(props["line"]), int(props["col"])) == (finding.path, finding.line,
                                                                                     finding.col)
        assert _unescape(props["title"]) == finding.code
        assert _unescape(match["message"]) == f"{finding.message}. Fix: {finding.fix}"
    assert len(lines) == len(report.findings) + 1


# -- the command ---------------------------------------------------------------------------------

def test_cli_exit_codes_and_formats(broken, monkeypatch, tmp_path):
    monkeypatch.chdir(broken.root)
    runner = CliRunner()
    bad = runner.invoke(main, ["lint", "--format", "json"])
    assert bad.exit_code == 1, bad.output
    assert json.loads(bad.output)["summary"]["errors"] > 0

    (broken.root / UP).write_text("-- Electric: not synced.\nSELECT 1;\n")
    (broken.root / DOWN).write_text("SELECT 1;\n")
    out = tmp_path / "report.sarif"
    good = runner.invoke(main, ["lint", "--format", "sarif", "-o", str(out)])
    assert good.exit_code == 0, good.output
    assert json.loads(out.read_text())["runs"][0]["results"] == []

    outside = runner.invoke(main, ["lint", str(tmp_path)])
    assert outside.exit_code == 1 and "outside the project" in outside.output


def test_pre_commit_hook_and_ci_example():
    import yaml

    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["entry"] == "arbedb lint" and hook["pass_filenames"] is True
    files = re.compile(hook["files"])
    project_sql = [p.relative_to(ROOT).as_posix() for d in ("migrations", "policies", "triggers", "electric")
                   for p in (ROOT / d).rglob("*.sql")]
    assert project_sql and all(files.search(p) for p in project_sql)
    assert not files.search("tests/fixtures/lint/ARB001/bad.sql")

    workflow = yaml.safe_load((ROOT / "docs/examples/github-actions.yml").read_text())
    runs = " ".join(step.get("run", "") for step in workflow["jobs"]["database"]["steps"])
    for command in ("arbedb lint", "arbedb apply", "arbedb verify", "arbedb rls-test"):
        assert command in runs
    assert "postgres" in workflow["jobs"]["database"]["services"]
