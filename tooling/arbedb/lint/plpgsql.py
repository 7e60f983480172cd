"""What a function body does, read by PostgreSQL's own parsers.

PL/pgSQL bodies go through ``pglast.parse_plpgsql`` (the server's PL/pgSQL
compiler front end); every SQL expression or statement inside is then parsed
with ``parse_sql``. SQL-language bodies are parsed directly. Each statement
comes back with the line it sits on in the source file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pglast import ast, parse_plpgsql, parse_sql, scan
from pglast.parser import ParseError

from .model import Function

# RawParseMode values the PL/pgSQL compiler records for each expression.
_PARSE_STATEMENT, _PARSE_EXPRESSION = 0, 2
_PARSE_ASSIGNMENTS = (3, 4, 5)


@dataclass(frozen=True)
class BodyStatement:
    node: ast.Node  # a statement; an expression comes wrapped as SELECT <expr>
    line: int  # line in the source (1 when the function came from a catalog)
    dynamic: bool = False  # the text of an EXECUTE
    base: int | None = None  # source offset that node locations count from (SQL bodies only)


@dataclass(frozen=True)
class Body:
    statements: tuple[BodyStatement, ...]
    new_fields: dict  # NEW.<field> assigned -> line of the first assignment
    error: str | None = None  # the compiler's message when the body does not compile


def body(fn: Function) -> Body:
    """The parsed body of ``fn``; computed once per function, since several rules read it."""
    cached = fn.__dict__.get("_body")
    if cached is None:
        cached = fn.__dict__["_body"] = _read(fn)
    return cached


def _source_line(fn: Function, body_line: int) -> int:
    """Absolute source line of ``body_line`` (1 = the line the body's opening quote is on)."""
    if fn.where.path is None:
        return 1
    start = _body_offset(fn)
    return fn.parsed.position(start)[0] + body_line - 1 if start is not None else fn.where.line


def _body_offset(fn: Function) -> int | None:
    for option in fn.node.options or ():
        if option.defname == "as" and option.arg_location is not None:
            return option.arg_location
    return None


def _body_text(fn: Function) -> str | None:
    for option in fn.node.options or ():
        if option.defname == "as":
            values = [s.sval for s in option.arg if isinstance(s, ast.String)]
            return values[0] if len(values) == 1 else None  # two strings: a C function
    return None


def _read(fn: Function) -> Body:
    if fn.language == "plpgsql":
        return _read_plpgsql(fn)
    if fn.language != "sql":
        return Body((), {})
    if fn.node.sql_body is not None:  # BEGIN ATOMIC ... END: already parsed with the CREATE
        nodes = [n for group in fn.node.sql_body for n in (group if isinstance(group, tuple) else (group,))]
        return Body(tuple(BodyStatement(n, fn.where.line) for n in nodes if isinstance(n, ast.Node)), {})
    text = _body_text(fn)
    if text is None:
        return Body((), {})
    try:
        raw = parse_sql(text)
    except ParseError as exc:
        return Body((), {}, str(exc.args[0]))
    out = []
    base = _text_start(fn)
    for stmt in raw:
        begin = stmt.stmt_location or 0
        begin += len(text[begin:]) - len(text[begin:].lstrip())
        line = text.count("\n", 0, begin) + 1
        out.append(BodyStatement(stmt.stmt, _source_line(fn, line), base=base))
    return Body(tuple(out), {})


def _text_start(fn: Function) -> int | None:
    """Source offset of the body's first character: past ``$$``/``$tag$`` (None for '…' bodies,
    whose doubled quotes would shift every offset)."""
    start = _body_offset(fn)
    if start is None or fn.where.path is None:
        return None
    source = fn.parsed.source.text
    if not source.startswith("$", start):
        return None
    return source.index("$", start + 1) + 1


def _read_plpgsql(fn: Function) -> Body:
    stmt = fn.statement
    text = fn.parsed.source.text[stmt.start:stmt.end]
    try:
        tree = parse_plpgsql(text)[0]["PLpgSQL_function"]
    except ParseError as exc:
        return Body((), {}, str(exc.args[0]))
    except Exception as exc:  # noqa: BLE001 - any compiler failure is reported, never fatal
        return Body((), {}, str(exc))
    statements: list[BodyStatement] = []
    errors: list[str] = []
    _collect(tree.get("action"), 1, statements, errors, fn)
    new_fields = _new_fields(tree, fn)
    return Body(tuple(statements), new_fields, errors[0] if errors else None)


def _collect(node, line: int, out: list, errors: list, fn: Function, dynamic: bool = False) -> None:
    """Walk the compiler's JSON tree; parse every PLpgSQL_expr with the line of its statement."""
    if isinstance(node, list):
        for item in node:
            _collect(item, line, out, errors, fn, dynamic)
        return
    if not isinstance(node, dict):
        return
    line = node.get("lineno", line)
    for key, value in node.items():
        if key == "PLpgSQL_expr":
            parsed = _parse_expr(value.get("query", ""), value.get("parseMode", 0))
            if isinstance(parsed, str):
                errors.append(parsed)
            else:
                out.extend(BodyStatement(n, _source_line(fn, line), dynamic) for n in parsed)
        elif key == "PLpgSQL_stmt_dynexecute":
            _collect(value.get("query"), value.get("lineno", line), out, errors, fn, True)
            _collect({k: v for k, v in value.items() if k != "query"}, value.get("lineno", line), out, errors, fn)
        else:
            _collect(value, line, out, errors, fn, dynamic)


def _parse_expr(query: str, mode: int) -> list[ast.Node] | str:
    if mode in _PARSE_ASSIGNMENTS:
        # "target := expression": the scanner finds the operator, quoting and all.
        ops = [t for t in scan(query) if t.name in ("COLON_EQUALS", "ASCII_61")]
        if not ops:
            return []
        query, mode = query[ops[0].end + 1:], _PARSE_EXPRESSION
    sql = f"SELECT {query}" if mode == _PARSE_EXPRESSION else query
    try:
        return [s.stmt for s in parse_sql(sql)]
    except ParseError as exc:
        return f"{exc.args[0]} in {query.strip()[:60]!r}"


def _new_fields(tree: dict, fn: Function) -> dict:
    """NEW.<field> -> line, for fields the body assigns (``NEW.f := …`` or ``SELECT … INTO NEW.f``)."""
    datums = tree.get("datums", [])
    new_no = tree.get("new_varno")
    fields: dict = {}

    def visit(node, line):
        if isinstance(node, list):
            for item in node:
                visit(item, line)
            return
        if not isinstance(node, dict):
            return
        line = node.get("lineno", line)
        assign = node.get("PLpgSQL_stmt_assign")
        # (The parse tree's JSON leaves out a zero varno: the function's first datum.)
        if assign is not None and assign.get("varno", 0) < len(datums):
            rec = datums[assign.get("varno", 0)].get("PLpgSQL_recfield")
            if rec and rec.get("recparentno") == new_no:
                fields.setdefault(rec["fieldname"], _source_line(fn, assign.get("lineno", line)))
        row = node.get("PLpgSQL_row")
        if row is not None and row.get("refname") == "(unnamed row)":
            for f in row.get("fields", []):
                if f.get("name", "").startswith("new."):
                    fields.setdefault(f["name"][4:], _source_line(fn, row.get("lineno", line)))
        for value in node.values():
            visit(value, line)

    visit(tree.get("action"), 1)
    return fields
