"""One report, four formats, for `arbedb lint` and `arbedb verify` alike.

- ``text``: one line per finding (``file:line:col: CODE message; fix: …``) and a summary;
- ``json``: ``{"tool", "summary", "findings": [Finding.as_dict()]}``;
- ``sarif``: SARIF 2.1.0, for GitHub code scanning and other SARIF viewers;
- ``github``: GitHub Actions workflow commands (annotations on the PR's diff).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from . import __version__
from .findings import Finding

FORMATS = ("text", "json", "sarif", "github")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


@dataclass(frozen=True)
class Report:
    tool: str  # "arbedb lint" / "arbedb verify"
    findings: list[Finding]
    summary: dict  # counts and timings, printed as given
    describe: Callable[[str], str | None] = lambda code: None  # rule code -> one-line description

    @property
    def errors(self) -> int:
        return sum(f.severity == "error" for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.severity != "error" for f in self.findings)


def render(report: Report, fmt: str) -> str:
    return {"text": _text, "json": _json, "sarif": _sarif, "github": _github}[fmt](report)


def _text(report: Report) -> str:
    lines = [f.line_text() + (" (warning)" if f.severity != "error" else "") for f in report.findings]
    details = ", ".join(f"{k} {v}" for k, v in report.summary.items())
    lines.append(f"{report.tool}: {report.errors} error(s), {report.warnings} warning(s) ({details})")
    return "\n".join(lines)


def _json(report: Report) -> str:
    body = {"tool": report.tool, "version": __version__,
            "summary": {"errors": report.errors, "warnings": report.warnings, **report.summary},
            "findings": [f.as_dict() for f in report.findings]}
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
    lines.append(f"{report.tool}: {report.errors} error(s), {report.warnings} warning(s)")
    return "\n".join(lines)
