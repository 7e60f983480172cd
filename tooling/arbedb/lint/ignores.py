"""Inline ignores: ``-- arbedb: ignore ARB004 because <reason>``.

An ignore covers the statement it sits in, the statement it trails (a comment
after the ``;`` on the statement's last line), or else the next statement; in a
file without statements, the rest of the file. It names one or more codes
(comma separated): an arbedb rule (``ARB004``), a sqlfluff rule (``LT05`` or
``sqlfluff:LT05``) or a squawk rule (``squawk:ban-drop-column``).

The reason is required: an ignore without one is itself a finding (ARB098) and
ignores nothing. An ignore that matched no finding is a warning (ARB099), so
stale ones do not pile up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..findings import Finding
from .parsing import ParsedSource

_IGNORE = re.compile(r"^arbedb:\s*ignore\s+(?P<codes>[\w:.-]+(?:\s*,\s*[\w:.-]+)*)(?:\s+because\s+(?P<reason>.*))?$",
                     re.IGNORECASE | re.DOTALL)
NO_REASON, UNUSED = "ARB098", "ARB099"


@dataclass
class Ignore:
    path: str
    line: int  # of the comment
    codes: tuple[str, ...]
    first: int  # lines it covers, inclusive
    last: int
    used: set = field(default_factory=set)

    def covers(self, finding: Finding) -> str | None:
        """The code of this ignore that silences ``finding``, if any."""
        if finding.path != self.path or not self.first <= finding.line <= self.last:
            return None
        for code in self.codes:
            if finding.code.lower() == code.lower() or finding.code.lower().endswith(":" + code.lower()):
                return code
        return None


def _comment_body(text: str) -> str:
    body = text[2:] if text.startswith("--") else text[2:-2]
    return " ".join(body.split())


def find(parsed: ParsedSource) -> tuple[list[Ignore], list[Finding]]:
    ignores, problems = [], []
    for offset, text in parsed.comments:
        body = _comment_body(text)
        if not body.lower().startswith("arbedb:"):
            continue
        line = parsed.position(offset)[0]
        match = _IGNORE.match(body)
        reason = (match.group("reason") or "").strip() if match else ""
        if not match or not reason:
            problems.append(Finding(
                NO_REASON, f"ignore comment without a reason: {body!r}",
                "write `-- arbedb: ignore CODE because <why this finding does not apply here>`",
                path=parsed.source.path, line=line, col=parsed.position(offset)[1]))
            continue
        codes = tuple(c.strip() for c in match.group("codes").split(","))
        first, last = _scope(parsed, offset, line)
        ignores.append(Ignore(parsed.source.path, line, codes, first, last))
    return ignores, problems


def _scope(parsed: ParsedSource, offset: int, line: int) -> tuple[int, int]:
    for stmt in parsed.statements:
        start_line, end_line = parsed.position(stmt.start)[0], parsed.position(max(stmt.end - 1, stmt.start))[0]
        inside = stmt.start <= offset < stmt.end
        trailing = stmt.end <= offset and end_line == line
        if inside or trailing or stmt.start > offset:
            return min(start_line, line), end_line
    return line, len(parsed.source.text.splitlines()) + 1


def apply(findings: list[Finding], ignores: list[Ignore]) -> tuple[list[Finding], int]:
    """(findings left, how many were silenced)."""
    kept, silenced = [], 0
    for finding in findings:
        for ignore in ignores:
            code = ignore.covers(finding)
            if code is not None:
                ignore.used.add(code)
                silenced += 1
                break
        else:
            kept.append(finding)
    return kept, silenced


def unused(ignores: list[Ignore]) -> list[Finding]:
    return [
        Finding(UNUSED, f"ignore of {code} matches no finding", "remove it (or the code from it)",
                path=i.path, line=i.line, severity="warning")
        for i in ignores for code in i.codes if code not in i.used
    ]
