"""The sqlfluff engine: house style, from the project's .sqlfluff.

sqlfluff's own ``-- noqa`` is switched off in .sqlfluff (``disable_noqa``): the
one way to silence any finding is arbedb's ignore comment, which needs a reason.
Unchanged files are answered from the cache (fluffcache.py) without importing sqlfluff.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ArbedbError
from ..findings import Finding
from .fluffcache import Cache, cacheable


def lint(root: Path, paths: list[str], *, cache: bool = True) -> list[Finding]:
    if not paths:
        return []
    store = Cache(root) if cache else None
    keys = {p: store.key(p) for p in paths} if store else {}
    answers = {p: store.get(p, keys[p]) for p in paths} if store else {}
    missing = [p for p in paths if answers.get(p) is None]
    if missing:
        fresh, templaters = _run(root, missing)
        # Inputs read again: a file or config saved while sqlfluff ran must not file that answer
        # under the key of what was there before.
        settled = Cache(root) if store else None
        for p in missing:
            answers[p] = fresh.get(p, [])
            if store and cacheable(templaters.get(p)) and settled.key(p) == keys[p]:
                store.put(p, keys[p], answers[p])
    return [_finding(p, v) for p in paths for v in answers[p]]


def _run(root: Path, paths: list[str]) -> tuple[dict[str, list[dict]], dict[str, str]]:
    """sqlfluff's violations per file (as plain data, the form the cache keeps), and each file's templater."""
    from sqlfluff.core import FluffConfig, Linter
    from sqlfluff.core.errors import SQLFluffUserError

    _forget_configs()
    try:
        config = FluffConfig.from_path(str(root))
    except SQLFluffUserError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ArbedbError(f"sqlfluff: {first} ({root}/.sqlfluff); add a .sqlfluff with `dialect = postgres` "
                          "(copy the one in the arbedb repository)") from None
    processes = min(int(config.get("processes") or 1), len(paths))
    result = Linter(config=config).lint_paths(tuple(str(root / p) for p in paths), processes=processes)
    found: dict[str, list[dict]] = {}
    for linted_dir in result.paths:
        for linted in linted_dir.files:
            rel = Path(linted.path).resolve().relative_to(root.resolve()).as_posix()
            found.setdefault(rel, []).extend(_plain(v) for v in linted.violations)
    templaters = {p: config.make_child_from_path(str(root / p)).get("templater") for p in paths}
    return found, templaters


def _forget_configs() -> None:
    """sqlfluff keeps each config file it read for the life of the process: in one that lints
    twice (the pytest plugin, an editor), an edited .sqlfluff would go unseen, and its stale
    answer would be cached under the new configuration's key."""
    from sqlfluff.core.config import file, loader

    for name in ("load_config_at_path", "load_config_file_as_dict", "load_config_string_as_dict"):
        for module in (file, loader):
            clear = getattr(getattr(module, name, None), "cache_clear", None)
            if clear:
                clear()


def _plain(violation) -> dict:
    return {"code": violation.rule_code(), "message": violation.desc().rstrip("."),
            "fixable": bool(getattr(violation, "fixes", None)),
            "line": violation.line_no or 1, "col": violation.line_pos or 1}


def _finding(path: str, v: dict) -> Finding:
    return Finding(
        code=f"sqlfluff:{v['code']}",
        message=v["message"],
        fix=f"run `sqlfluff fix {path}`" if v["fixable"] else f"reformat by hand (`sqlfluff lint {path}` shows it)",
        path=path, line=v["line"], col=v["col"],
    )
