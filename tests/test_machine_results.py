"""`--junit FILE` and `--format json` of verify and rls-test: each check a testcase a CI system can show."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import psycopg
from click.testing import CliRunner
from junitparser import Failure, JUnitXml, Skipped

from arbedb.cli import main
from arbedb.reporting import render
from arbedb.rls.command import mutation_report
from arbedb.rls.mutants import Mutant, Verdict


def _cases(path) -> dict[str, list]:
    """testcase name -> its results (Failure, Skipped; empty when it passed), read back with junitparser."""
    xml = JUnitXml.fromfile(str(path))
    return {case.name: list(case.result) for suite in xml for case in suite}


def _break(dsn: str, statement: str) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(statement)


def test_verify_junit_lists_every_check_and_fails_on_errors(arbedb_dsn, arbedb_project, monkeypatch, tmp_path):
    monkeypatch.chdir(arbedb_project.root)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no Supabase CLI: its check is a skipped testcase
    args = ["verify", "--dsn", arbedb_dsn, "--skip", "drift", "--skip", "electric"]
    clean = CliRunner().invoke(main, [*args, "--junit", str(tmp_path / "clean.xml")])
    assert clean.exit_code == 0, clean.output
    cases = _cases(tmp_path / "clean.xml")
    assert {"conventions", "data_api", "pgrls"} <= set(cases) and not any(
        isinstance(r, Failure) for results in cases.values() for r in results)
    assert [type(r) for r in cases["advisors"]] == [Skipped]
    assert "Supabase CLI is not on PATH" in cases["advisors"][0].message

    _break(arbedb_dsn, "ALTER TABLE public.threads DISABLE ROW LEVEL SECURITY")
    broken = CliRunner().invoke(main, [*args, "--format", "json", "--junit", str(tmp_path / "broken.xml")])
    assert broken.exit_code == 1
    body = json.loads(broken.output)
    assert ("ARB002", "public.threads") in {(f["code"], f["object"]) for f in body["findings"]}
    assert {c["name"]: c["ran"] for c in body["checks"]}["advisors"] is False
    failed = {name for name, results in _cases(tmp_path / "broken.xml").items()
              if any(isinstance(r, Failure) for r in results)}
    assert "conventions: ARB002" in failed
    root = ET.parse(tmp_path / "broken.xml").getroot()  # what a CI system reads: the counts too
    assert int(root.get("failures")) == len(failed) and int(root.get("skipped")) >= 1


def test_rls_test_json_and_junit(arbedb_dsn, arbedb_project, monkeypatch, tmp_path):
    monkeypatch.chdir(arbedb_project.root)
    args = ["rls-test", "--dsn", arbedb_dsn, "--examples", "3", "--format", "json", "--junit", str(tmp_path / "r.xml")]
    agreed = CliRunner().invoke(main, args)
    assert agreed.exit_code == 0, agreed.output
    body = json.loads(agreed.output)
    assert body["tool"] == "arbedb rls-test" and body["findings"] == [] and body["summary"]["worlds"] == 3
    assert _cases(tmp_path / "r.xml") == {"property": []}

    _break(arbedb_dsn, "ALTER POLICY agents_select ON public.agents USING (true)")
    disagreed = CliRunner().invoke(main, args)
    assert disagreed.exit_code == 1
    # stdout is the report alone; the notice of the disagreement, printed when found, is on stderr
    assert [f["code"] for f in json.loads(disagreed.stdout)["findings"]] == ["rls:disagreement"]
    assert "disagreement found in world" in disagreed.stderr
    assert {k: [type(r) for r in v] for k, v in _cases(tmp_path / "r.xml").items()} == {
        "property: rls:disagreement": [Failure]}


def test_rls_test_text_still_reads_as_before_and_writes_junit(arbedb_dsn, arbedb_project, monkeypatch, tmp_path):
    monkeypatch.chdir(arbedb_project.root)
    _break(arbedb_dsn, "ALTER POLICY agents_select ON public.agents USING (true)")
    result = CliRunner().invoke(main, ["rls-test", "--dsn", arbedb_dsn, "--examples", "3",
                                       "--junit", str(tmp_path / "r.xml")])
    assert result.exit_code == 1 and "RLS disagrees with the model" in result.output
    assert [type(r) for r in _cases(tmp_path / "r.xml")["property: rls:disagreement"]] == [Failure]


def test_each_mutant_is_a_testcase_and_a_survivor_fails():
    killed = Verdict(Mutant("agents_select: true", "", "policies/30_agents.sql"), True, "user1 saw agents#0")
    survived = Verdict(Mutant("threads_update: no check", "", "policies/40_threads.sql"), False, "no world noticed")
    report = mutation_report([killed, survived], seed_value=0)
    assert report.errors == 1
    root = ET.fromstring(render(report, "junit").split("\n", 1)[1])
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == {"agents_select: true", "threads_update: no check: rls:mutant-survived"}
    assert cases["agents_select: true"].find("failure") is None
    assert "policies/40_threads.sql" in cases["threads_update: no check: rls:mutant-survived"].find("failure").text


def test_the_example_workflow_shows_the_junit_results():
    import yaml

    from arbedb.config import find_project

    root = find_project().root
    steps = yaml.safe_load((root / "docs/examples/github-actions.yml").read_text())["jobs"]["database"]["steps"]
    runs = {step.get("name"): step.get("run", "") for step in steps}
    assert "--junit verify.xml" in runs["verify"] and "--junit rls-test.xml" in runs["rls-test"]
    report = next(step for step in steps if "junit-report" in step.get("uses", ""))
    assert report["if"] == "always()" and report["with"]["report_paths"] == "verify.xml,rls-test.xml"
