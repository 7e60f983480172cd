"""`arbedb lint`: the repository's SQL, checked without a database.

Three engines, one report:

- ``sqlfluff`` — house style (.sqlfluff), run in-process on the files whose answer is not
  cached (lint/fluffcache.py);
- ``squawk`` — migration safety (.squawk.toml), run as subprocesses;
- ``arbedb`` — this project's rules (lint/rules/), on pglast's parse trees.

squawk's processes start first and run while the other two work; sqlfluff and
the rules run in two threads (sqlfluff spends most of its time in its Rust
parser and its own worker processes, so the threads overlap). Inline ignores
(lint/ignores.py) then apply to every engine's findings alike.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Project
from ..errors import ArbedbError
from ..findings import Finding
from . import fluff, ignores, semantic, squawk
from .parsing import ParsedSource, parse
from .sources import Source, project_sources

ENGINES = ("sqlfluff", "squawk", "arbedb")


@dataclass
class LintReport:
    findings: list[Finding]
    files: int
    engines: tuple[str, ...]
    seconds: float = 0.0
    silenced: int = 0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]


def _timed(timings: dict, name: str, fn, *args):
    started = time.perf_counter()
    try:
        return fn(*args)
    finally:
        timings[name] = time.perf_counter() - started


def select(project: Project, paths: list[str] | None) -> tuple[list[Source], set[str] | None]:
    """All sources, and the relative paths to report on (None: all of them)."""
    sources = project_sources(project)
    if not paths:
        return sources, None
    known = {s.path for s in sources}
    wanted = set()
    for p in paths:
        path = Path(p).resolve()
        if not path.exists():
            raise ArbedbError(f"{p}: no such file or folder; name files or folders of the project to lint "
                              "(or none, for all of it)")
        try:
            rel = path.relative_to(project.root.resolve()).as_posix()
        except ValueError:
            raise ArbedbError(f"{p} is outside the project at {project.root}; lint files of this project") from None
        matched = {k for k in known if k == rel or k.startswith(rel.rstrip("/") + "/") or rel == "."}
        if not matched:
            raise ArbedbError(f"{p}: no SQL that arbedb lints is there (migrations/versions/*.sql and the "
                              "declarative folders); name one of those, or nothing for the whole project")
        wanted |= matched
    return sources, wanted


def lint(project: Project, paths: list[str] | None = None, engines: tuple[str, ...] = ENGINES, *,
         cache: bool = True) -> LintReport:
    """Lint ``paths`` (files or folders; default: the whole project) with ``engines``;
    ``cache=False`` asks sqlfluff about every file, whatever the cache holds."""
    unknown = set(engines) - set(ENGINES)
    if unknown:
        raise ArbedbError(f"unknown engine(s) {', '.join(sorted(unknown))}; choose from {', '.join(ENGINES)}")
    started = time.perf_counter()
    sources, wanted = select(project, paths)
    targets = [s for s in sources if wanted is None or s.path in wanted]
    parsed = [parse(s) for s in sources]
    timings: dict[str, float] = {}
    procs = squawk.start(project.root, targets) if "squawk" in engines else []
    findings: list[Finding] = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        style = pool.submit(_timed, timings, "sqlfluff", lambda: fluff.lint(
            project.root, [s.path for s in targets] if "sqlfluff" in engines else [], cache=cache))
        if "arbedb" in engines:
            findings += _timed(timings, "arbedb", semantic.check, parsed, project)
        findings += style.result()
    findings += _timed(timings, "squawk", squawk.collect, procs)

    if wanted is not None:
        findings = [f for f in findings if f.path in wanted]
    if "arbedb" in engines:  # the history is the project's, whatever PATHS name: a split stops every apply
        findings += history_findings(project)
    kept, silenced, problems = _apply_ignores([p for p in parsed if p.source in targets], findings,
                                              full=set(engines) == set(ENGINES))
    kept += problems
    kept.sort(key=lambda f: (f.path or "", f.line, f.col, f.code))
    return LintReport(kept, len(targets), tuple(engines), time.perf_counter() - started, silenced, timings)


HISTORY = "ARB090"


def history_findings(project: Project) -> list[Finding]:
    """The revision history must be one line (engine/history.py): a rule of the project, on files."""
    from ..engine.history import problems

    return [Finding(HISTORY, p.message, p.fix, path=p.path) for p in problems(project)]


def _apply_ignores(targets: list[ParsedSource], findings: list[Finding], *, full: bool):
    found, problems = [], []
    for parsed in targets:
        these, bad = ignores.find(parsed)
        found += these
        problems += bad
    kept, silenced = ignores.apply(findings, found)
    if full:  # an ignore can only be called unused when every engine had its say
        problems += ignores.unused(found)
    return kept, silenced, problems


def describe(code: str) -> str | None:
    """One line about a rule code, for report metadata."""
    from .rules import all_rules, summary

    for module in all_rules():
        if module.CODE == code:
            return f"{module.TITLE}: {summary(module)}"
    return {"ARB000": "the SQL does not parse", ignores.NO_REASON: "an ignore comment without a reason",
            ignores.UNUSED: "an ignore comment that matched nothing",
            HISTORY: "revision history: one line, each revision id declared once"}.get(code)


def as_report(result: LintReport):
    from ..reporting import Report

    summary = {"files": result.files, "ignored": result.silenced, "engines": "+".join(result.engines),
               "seconds": round(result.seconds, 2)}
    return Report("arbedb lint", result.findings, summary, describe)
