"""The arbedb engine: parse every source once, build the schema model, run the rules."""

from __future__ import annotations

from pathlib import Path

from ..errors import ArbedbError
from ..findings import Finding
from .model import build_schema
from .parsing import ParsedSource, parse
from .plpgsql import body
from .rules import Context, rules_for
from .sources import Source


def electric_declarations(project) -> tuple[frozenset[str], dict, tuple, list[Finding]]:
    """(synced tables, shape columns per table, subqueries, findings) from electric/shapes.toml.

    A subquery's columns count as shape columns of its own table (ARB020 judges them too).

    A project without the file syncs nothing; a malformed file is a finding, so
    lint reports it beside everything else instead of stopping.
    """
    from ..electric.shapes import SHAPES_FILE, load_shapes

    relpath = project.extra.get("shapes", SHAPES_FILE)
    if not (Path(project.root) / relpath).is_file():
        return frozenset(), {}, (), []
    try:
        shapes = load_shapes(project)
    except ArbedbError as exc:
        return frozenset(), {}, (), [Finding("ARB000", str(exc), "fix the shape declarations", path=relpath)]
    columns = {t.qualified: list(dict.fromkeys(c for s in t.shapes for c in s.where_columns)) for t in shapes.tables}
    subqueries = tuple((f"{s.table}.{s.name}", shapes.table(s.table).qualified, s.parsed.conjuncts, q)
                       for s in shapes.all_shapes() for q in s.subqueries)
    for _, _, _, query in subqueries:
        columns.setdefault(query.table, [])
        columns[query.table] += [c for c in (*query.selects, *query.columns) if c not in columns[query.table]]
    return frozenset(shapes.qualified_names), {t: tuple(c) for t, c in columns.items()}, subqueries, []


def context(parsed: list[ParsedSource], *, synced: frozenset[str], shape_columns: dict | None = None,
            project=None, subqueries: tuple = ()) -> Context:
    return Context(build_schema(parsed), tuple(parsed), synced, shape_columns or {}, subqueries=subqueries,
                   project=project)


def run_rules(ctx: Context, *, scope: str | None = None, skip: tuple[str, ...] = ()) -> list[Finding]:
    return [f for rule in rules_for(scope) if rule.CODE not in skip for f in rule.check(ctx)]


def check_sources(sources: list[Source], project=None, *, synced=None, shape_columns=None) -> list[Finding]:
    """Every finding of the arbedb engine for these sources (lint)."""
    return check([parse(s) for s in sources], project, synced=synced, shape_columns=shape_columns)


def check(parsed: list[ParsedSource], project=None, *, synced=None, shape_columns=None) -> list[Finding]:
    findings: list[Finding] = []
    subqueries = ()
    if synced is None:
        if project is not None:
            synced, shape_columns, subqueries, problems = electric_declarations(project)
            findings += problems
        else:
            synced = frozenset()
    findings += [p.error for p in parsed if p.error is not None]
    ctx = context(parsed, synced=synced, shape_columns=shape_columns, project=project, subqueries=subqueries)
    findings += run_rules(ctx)
    findings += body_errors(ctx)
    return findings


def body_errors(ctx: Context) -> list[Finding]:
    """PL/pgSQL bodies the compiler rejects: the server would reject them at CREATE or first call."""
    out = []
    for fn in ctx.schema.functions.values():
        error = body(fn).error
        if error:
            out.append(fn.where.finding("ARB000", f"the body of {fn.signature} does not compile: {error}",
                                        "fix the function body", obj=fn.signature))
    return out
