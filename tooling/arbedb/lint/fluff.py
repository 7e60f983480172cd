"""The sqlfluff engine: house style, from the project's .sqlfluff.

sqlfluff's own ``-- noqa`` is switched off in .sqlfluff (``disable_noqa``): the
one way to silence any finding is arbedb's ignore comment, which needs a reason.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ArbedbError
from ..findings import Finding


def lint(root: Path, paths: list[str]) -> list[Finding]:
    if not paths:
        return []
    from sqlfluff.core import FluffConfig, Linter
    from sqlfluff.core.errors import SQLFluffUserError

    try:
        config = FluffConfig.from_path(str(root))
    except SQLFluffUserError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ArbedbError(f"sqlfluff: {first} ({root}/.sqlfluff); add a .sqlfluff with `dialect = postgres` "
                          "(copy the one in the arbedb repository)") from None
    processes = min(int(config.get("processes") or 1), len(paths))
    result = Linter(config=config).lint_paths(tuple(str(root / p) for p in paths), processes=processes)
    findings = []
    for linted_dir in result.paths:
        for linted in linted_dir.files:
            rel = Path(linted.path).resolve().relative_to(root.resolve()).as_posix()
            findings.extend(_finding(rel, v) for v in linted.violations)
    return findings


def _finding(path: str, violation) -> Finding:
    code = violation.rule_code()
    fixable = bool(getattr(violation, "fixes", None))
    return Finding(
        code=f"sqlfluff:{code}",
        message=violation.desc().rstrip("."),
        fix=f"run `sqlfluff fix {path}`" if fixable else f"reformat by hand (`sqlfluff lint {path}` shows it)",
        path=path, line=violation.line_no or 1, col=violation.line_pos or 1,
    )
