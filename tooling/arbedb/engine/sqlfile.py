"""A SQL file read whole by PostgreSQL's own parser (pglast, libpg_query), before any of it runs.

Shared by apply (``engine.sqlexec``) and lint (``lint.parsing``), so both see a file the
same way. The parser, not the scanner, splits the file: libpg_query's scanner-only
split silently stops at a statement whose parentheses never close, which once made
apply drop the rest of a file and report success.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from pglast import ast, parse_sql, scan
from pglast.parser import ParseError

COMMENT_TOKENS = ("SQL_COMMENT", "C_COMMENT")
SEMICOLON = "ASCII_59"


@dataclass
class Statement:
    node: ast.Node
    start: int  # offset of its first token (leading comments excluded)
    end: int  # offset just past its last character


class SqlSyntaxError(Exception):
    """PostgreSQL's parser rejects the text: its message, and the character offset it names."""

    def __init__(self, message: str, offset: int):
        super().__init__(message, offset)
        self.message = message
        self.offset = offset


def statements(text: str) -> list[Statement]:
    """Every statement of ``text``, or :class:`SqlSyntaxError`.

    Offsets are character offsets. What lies between statements is only whitespace,
    comments and semicolons: anything else raises, so no byte of the file is left
    out of what runs."""
    try:
        raw = parse_sql(text)
    except ParseError as exc:
        message, offset = (exc.args + (None,))[:2]
        message = _one_line(message)
        if offset is None:  # "syntax error at end of input": point at what never ended
            message += " (the statement starting on this line never ends: a missing `)`, `END` or quote?)"
            offset = _unfinished(text)
        raise SqlSyntaxError(message, offset) from None
    tokens = [t for t in scan(text) if t.name not in COMMENT_TOKENS]
    starts = [t.start for t in tokens]
    out = []
    for stmt in raw:
        begin = stmt.stmt_location or 0
        end = begin + stmt.stmt_len if stmt.stmt_len else len(text)
        first = bisect.bisect_left(starts, begin)
        out.append(Statement(stmt.stmt, starts[first] if first < len(starts) else begin, end))
    _check_covered(tokens, out)
    return out


def _one_line(message: str) -> str:
    """The scanner quotes the rest of the file after "at or near" (an unclosed quote runs to the
    end): keep the first line of the quote, so an error stays one line."""
    first, _, rest = message.partition("\n")
    return f'{first[:80]}…"' if rest or len(first) > 80 else first


def terminated(text: str) -> bool:
    """Whether the last token of ``text`` (comments aside) is a semicolon: a file that is
    not must not be pasted in front of another one, or the two statements become one."""
    tokens = [t for t in scan(text) if t.name not in COMMENT_TOKENS]
    return not tokens or tokens[-1].name == SEMICOLON


def _check_covered(tokens, stmts: list[Statement]) -> None:
    # The parser accepted the whole text, so this holds; it is checked because a file
    # that runs only in part is the one failure apply must never have.
    ends = [s.end for s in stmts]
    for t in tokens:
        i = bisect.bisect_right(ends, t.start)
        inside = i < len(stmts) and stmts[i].start <= t.start
        if not inside and t.name != SEMICOLON:
            raise SqlSyntaxError("text outside every statement the parser found", t.start)


def _unfinished(text: str) -> int:
    """Where the statement begins that the end of ``text`` cut short ("syntax error at end
    of input" names no position): after the last semicolon up to which the text parses."""
    tokens = [t for t in scan(text) if t.name not in COMMENT_TOKENS]
    for i in range(len(tokens) - 1, -1, -1):
        if tokens[i].name != SEMICOLON:
            continue
        try:
            parse_sql(text[:tokens[i].end + 1])
        except ParseError:
            continue
        return tokens[i + 1].start if i + 1 < len(tokens) else len(text)
    return tokens[0].start if tokens else 0
