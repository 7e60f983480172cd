"""One report, four formats, for `arbedb lint` and `arbedb verify` alike.

- ``text``: one line per finding (``file:line:col: CODE message; fix: …``) and a summary;
- ``json``: ``{"tool", "summary", "findings": [Finding.as_dict()]}``;
- ``sarif``: SARIF 2.1.0, for GitHub code scanning and other SARIF viewers;
- ``github``: GitHub Actions workflow commands (annotations on the PR's diff);
- ``junit``: JUnit XML (``--junit FILE``), one testcase per check and finding code, so a CI
  system lists each check as passed, failed or skipped.

A report made of named checks (verify's modules, rls-test's property or mutants) lists
them in ``checks``; a check that could not run says why there, and every format shows it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from . import __version__
from .findings import Finding

FORMATS = ("text", "json", "sarif", "github")


@dataclass(frozen=True)
class Check:
    name: str  # "electric", "plpgsql_check", "property", a mutant's name
    findings: tuple[Finding, ...] = ()
    not_run: str | None = None  # why it did not run and how to get it, one line
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


@dataclass(frozen=True)
class Report:
    tool: str  # "arbedb lint" / "arbedb verify"
    findings: list[Finding]
    summary: dict  # counts and timings, printed as given
    describe: Callable[[str], str | None] = lambda code: None  # rule code -> one-line description
    checks: tuple[Check, ...] = ()  # the named checks the findings come from, when there are such

    @property
    def not_run(self) -> dict[str, str]:
        return {c.name: c.not_run for c in self.checks if c.not_run is not None}

    @property
    def errors(self) -> int:
        return sum(f.severity == "error" for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.severity != "error" for f in self.findings)


def render(report: Report, fmt: str) -> str:
    return {"text": _text, "json": _json, "sarif": _sarif, "github": _github, "junit": _junit}[fmt](report)


def _text(report: Report) -> str:
    lines = [f.line_text() + (" (warning)" if f.severity != "error" else "") for f in report.findings]
    lines += [f"{report.tool}: {name} did not run: {why}" for name, why in report.not_run.items()]
    details = ", ".join(f"{k} {v}" for k, v in report.summary.items())
    lines.append(f"{report.tool}: {report.errors} error(s), {report.warnings} warning(s) ({details})")
    return "\n".join(lines)


def _json(report: Report) -> str:
    body = {"tool": report.tool, "version": __version__,
            "summary": {"errors": report.errors, "warnings": report.warnings, **report.summary},
            "findings": [f.as_dict() for f in report.findings]}
    if report.checks:
        body["checks"] = [{"name": c.name, "ran": c.not_run is None, "not_run": c.not_run,
                           "errors": sum(f.severity == "error" for f in c.findings)} for c in report.checks]
    return json.dumps(body, indent=2)


def _sarif(report: Report) -> str:
    codes = sorted({f.code for f in report.findings})
    rules = []
    for code in codes:
        rule = {"id": code, "name": code.replace(":", "-")}
        text = report.describe(code)
        if text:
            rule["shortDescription"] = {"text": text}
        rules.append(rule)
    index = {code: i for i, code in enumerate(codes)}
    results = []
    for f in report.findings:
        result = {
            "ruleId": f.code, "ruleIndex": index[f.code],
            "level": "error" if f.severity == "error" else "warning",
            "message": {"text": f"{f.message}. Fix: {f.fix}"},
        }
        if f.path:
            result["locations"] = [{"physicalLocation": {
                "artifactLocation": {"uri": f.path, "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": f.line, "startColumn": f.col}}}]
        else:
            result["locations"] = [{"logicalLocations": [{"fullyQualifiedName": f.object or "database"}]}]
        results.append(result)
    log = {
        "$schema": SARIF_SCHEMA, "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "arbedb", "version": __version__, "rules": rules}},
            "automationDetails": {"id": report.tool.replace(" ", "/") + "/"},
            "results": results,
        }],
    }
    return json.dumps(log, indent=2)


def _escape(value: str, *, prop: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return value.replace(":", "%3A").replace(",", "%2C") if prop else value


def _github(report: Report) -> str:
    lines = []
    for f in report.findings:
        kind = "error" if f.severity == "error" else "warning"
        props = [f"file={_escape(f.path, prop=True)}", f"line={f.line}", f"col={f.col}"] if f.path else []
        props.append(f"title={_escape(f.code, prop=True)}")
        where = "" if f.path else f"{f.object or 'database'}: "
        lines.append(f"::{kind} {','.join(props)}::{_escape(where + f.message + '. Fix: ' + f.fix)}")
    lines += [f"::notice title={_escape(name, prop=True)}::{_escape(f'{name} did not run: {why}')}"
              for name, why in report.not_run.items()]
    lines.append(f"{report.tool}: {report.errors} error(s), {report.warnings} warning(s)")
    return "\n".join(lines)


def _junit(report: Report) -> str:
    """One testsuite per report; per check a testcase per finding code (failed when one of
    them is an error), a passing testcase for a clean check, a skipped one for a check
    that did not run. Findings of a report without checks are grouped by code."""
    from junitparser import Failure, JUnitXml, Skipped, TestCase, TestSuite

    suite = TestSuite(report.tool)
    checks = report.checks or (Check(report.tool.split()[-1], tuple(report.findings)),)
    for check in checks:
        if check.not_run is not None:
            case = TestCase(check.name, classname=report.tool)
            case.result = [Skipped(check.not_run)]
            suite.add_testcase(case)
            continue
        codes = sorted({f.code for f in check.findings})
        if not codes:
            suite.add_testcase(TestCase(check.name, classname=report.tool))
        for code in codes:
            found = [f for f in check.findings if f.code == code]
            case = TestCase(code if code.startswith(check.name) else f"{check.name}: {code}", classname=report.tool)
            errors = [f for f in found if f.severity == "error"]
            if errors:
                case.result = [Failure(f"{len(errors)} error(s): {errors[0].message}", type_=code)]
                case.result[0].text = "\n".join(f.line_text() for f in errors)
            others = [f.line_text() + f" ({f.severity})" for f in found if f.severity != "error"]
            if others:
                case.system_out = "\n".join(others)
            suite.add_testcase(case)
    suite.update_statistics()
    xml = JUnitXml(report.tool)
    xml.add_testsuite(suite)
    xml.update_statistics()
    return '<?xml version="1.0" encoding="utf-8"?>\n' + xml.tostring().decode()
