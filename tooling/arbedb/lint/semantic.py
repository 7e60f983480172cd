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


def electric_declarations(project) -> tuple[frozenset[str], dict, list[Finding]]:
    """(synced tables, shape columns per table, findings) from electric/shapes.toml.

    A project without the file syncs nothing; a malformed file is a finding, so
    lint reports it beside everything else instead of stopping.
    """
    from ..electric.shapes import SHAPES_FILE, load_shapes

    relpath = project.extra.get("shapes", SHAPES_FILE)
    if not (Path(project.root) / relpath).is_file():
        return frozenset(), {}, []
    try:
        shapes = load_shapes(project)
    except ArbedbError as exc:
        return frozenset(), {}, [Finding("ARB000", str(exc), "fix the shape declarations", path=relpath)]
    columns = {t.qualified: tuple(dict.fromkeys(c for s in t.shapes for c in s.where_columns)) for t in shapes.tables}
    return frozenset(shapes.qualified_names), columns, []


def context(parsed: list[ParsedSource], *, synced: frozenset[str], shape_columns: dict | None = None,
            project=None) -> Context:
    return Context(build_schema(parsed), tuple(parsed), synced, shape_columns or {}, project)


def run_rules(ctx: Context, *, scope: str | None = None, skip: tuple[str, ...] = ()) -> list[Finding]:
    return [f for rule in rules_for(scope) if rule.CODE not in skip for f in rule.check(ctx)]


def check_sources(sources: list[Source], project=None, *, synced=None, shape_columns=None) -> list[Finding]:
    """Every finding of the arbedb engine for these sources (lint)."""
    return check([parse(s) for s in sources], project, synced=synced, shape_columns=shape_columns)


def check(parsed: list[ParsedSource], project=None, *, synced=None, shape_columns=None) -> list[Finding]:
    findings: list[Finding] = []
    if synced is None:
        if project is not None:
            synced, shape_columns, problems = electric_declarations(project)
            findings += problems
        else:
            synced = frozenset()
    findings += [p.error for p in parsed if p.error is not None]
    ctx = context(parsed, synced=synced, shape_columns=shape_columns, project=project)
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
