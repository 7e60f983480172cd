"""A source parsed once by PostgreSQL's own parser (pglast), shared by every rule.

Offsets from pglast are character offsets into the source text; ``position``
turns them into 1-based line and column for findings.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from functools import cached_property

from pglast import scan
from pglast.parser import ParseError

from ..engine.sqlfile import COMMENT_TOKENS, SqlSyntaxError, Statement, statements
from ..findings import Finding
from .sources import Source

__all__ = ["COMMENT_TOKENS", "ParsedSource", "Statement", "parse"]


@dataclass
class ParsedSource:
    source: Source
    statements: list[Statement] = field(default_factory=list)
    error: Finding | None = None  # set when PostgreSQL's parser rejects the text

    @cached_property
    def _line_starts(self) -> list[int]:
        starts = [0]
        text = self.source.text
        i = text.find("\n")
        while i >= 0:
            starts.append(i + 1)
            i = text.find("\n", i + 1)
        return starts

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1

    @cached_property
    def tokens(self):
        try:
            return scan(self.source.text)
        except ParseError:
            return []

    @cached_property
    def comments(self) -> list[tuple[int, str]]:
        """(offset, text) of each comment, found by the scanner, so quoted text never counts."""
        return [(t.start, self.source.text[t.start:t.end + 1]) for t in self.tokens if t.name in COMMENT_TOKENS]

    def locate(self, offset: int | None) -> dict:
        """Finding keyword arguments (path/line/col or object) for an offset in this source."""
        if self.source.path is None:
            return {"object": self.source.object}
        line, col = self.position(max(offset or 0, 0))
        return {"path": self.source.path, "line": line, "col": col}


def parse(source: Source) -> ParsedSource:
    """The statements exactly as `arbedb apply` splits them (``engine.sqlfile``)."""
    parsed = ParsedSource(source)
    try:
        parsed.statements = statements(source.text)
    except SqlSyntaxError as exc:
        parsed.error = Finding(
            code="ARB000", message=f"PostgreSQL cannot parse this file: {exc.message}",
            fix="correct the SQL syntax at this position", **parsed.locate(exc.offset))
    return parsed
