"""The revision history as alembic reads it, and what in it alembic would only warn about.

arbedb's history is one line: each revision names the one before it. Two revisions with
the same parent (two heads) or two files declaring the same revision id are mistakes of
a merge or a copy; alembic warns (a revision present twice: one of the two is silently
ignored) or asks for ``heads``, which ``arbedb apply`` does not take. Every command that
reads the history (apply, down, status, new) and ``arbedb lint`` ask this module instead.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from ..config import Project, check_layout
from ..errors import ArbedbError


def alembic_config(project: Project, dsn: str | None = None, **attributes):
    from alembic.config import Config

    cfg = Config(str(project.alembic_ini))
    cfg.set_main_option("script_location", str(project.migrations_dir))
    cfg.attributes.update(project=project, dsn=dsn, **attributes)
    return cfg


@dataclass(frozen=True)
class Problem:
    message: str
    fix: str
    path: str  # relative to the project root

    def line(self) -> str:
        return f"{self.path}: {self.message}; {self.fix}"


def _relative(project: Project, path: str | Path) -> str:
    try:
        return Path(path).resolve().relative_to(project.root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _declared_ids(project: Project) -> dict[str, list[str]]:
    """revision id -> the files that declare it, read from the files (alembic keeps only one of each)."""
    found: dict[str, list[str]] = {}
    for py in sorted((project.migrations_dir / "versions").glob("*.py")):
        match = re.search(r"""^revision\s*(?::\s*str\s*)?=\s*["']([^"']+)["']""", py.read_text(), re.M)
        if match:
            found.setdefault(match.group(1), []).append(_relative(project, py))
    return found


def _assigned(name: str, text: str) -> list[str | None]:
    """Every top-level ``name = "literal"`` or ``name = None`` of a revision file (None for None)."""
    found = re.findall(rf"""^{name}\s*(?::[^=\n]+)?=\s*(?:["']([^"'\n]+)["']|(None))\s*(?:#.*)?$""", text, re.M)
    return [value if value else None for value, _ in found]


def plain_line(project: Project) -> list[tuple[str, Path]] | None:
    """(revision, file) oldest first, when the revision files' own literals already make one line that
    alembic reads the same way: each file assigns ``revision`` a string once and ``down_revision`` a
    string or None once (no merges, branch labels or dependencies), one root, every parent present,
    no parent shared. Then the history needs no alembic (and not its ~0.5 s of imports, most of
    ``arbedb lint``'s time, and half of an apply's); anything else (None) is left to alembic, whose
    messages the problems below carry."""
    ini = project.alembic_ini
    if not ini.is_file() or re.search(r"^\s*(recursive_)?version_locations\s*=", ini.read_text(), re.M):
        return None  # revisions in folders this does not read
    parents: dict[str, str | None] = {}
    files: dict[str, Path] = {}
    for py in (project.migrations_dir / "versions").glob("*.py"):
        text = py.read_text()
        revision, down = _assigned("revision", text), _assigned("down_revision", text)
        extras = [v for name in ("branch_labels", "depends_on") for v in _assigned(name, text)]
        declared = len(re.findall(r"^(revision|down_revision|branch_labels|depends_on)\b", text, re.M))
        if (len(revision) != 1 or revision[0] is None or len(down) != 1 or any(extras)
                or declared != 2 + len(extras) or revision[0] in parents):
            return None
        parents[revision[0]] = down[0]
        files[revision[0]] = py
    # From the root, each revision's child: a shared parent, a missing one or a loop leaves some unwalked.
    children = {down: rev for rev, down in parents.items()}
    line, at = [], children.get(None)
    while at is not None and len(line) <= len(parents):
        line.append((at, files[at]))
        at = children.get(at)
    return line if len(line) == len(parents) else None


def problems(project: Project) -> list[Problem]:
    """Everything that keeps the history from being one line, oldest first."""
    if not (project.migrations_dir / "env.py").is_file():
        return []  # no history yet (a lint-only checkout); commands that need one say so (check_layout)
    if plain_line(project) is not None:
        return []
    from alembic.script import ScriptDirectory
    from alembic.script.revision import RevisionError
    from alembic.util import CommandError

    out = [Problem(f"revision {rev} is declared by {len(files)} files ({', '.join(files)}); alembic would "
                   "silently use only one of them", "give each its own revision id (the next free number) "
                   "and chain its down_revision to the one before", files[-1])
           for rev, files in _declared_ids(project).items() if len(files) > 1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # each warning alembic has is reported above, as a problem
        try:
            script = ScriptDirectory.from_config(alembic_config(project))
            heads = script.get_heads()
        except (CommandError, RevisionError) as exc:  # RevisionError: a loop (CycleDetected), among others
            return out + [Problem(str(exc), "fix the revision files' revision / down_revision",
                                  _relative(project, project.migrations_dir / "versions"))]
        except KeyError as exc:  # alembic's map meeting a down_revision no file declares
            return out + [Problem(f"a down_revision names revision {exc.args[0]}, which no file declares",
                                  "set it to the revision before it", _relative(project, project.migrations_dir / "versions"))]
        if len(heads) > 1:
            revs = [script.get_revision(h) for h in heads]
            parents = sorted({str(r.down_revision) for r in revs})
            out.append(Problem(
                f"the history splits: revisions {', '.join(sorted(heads))} all follow {', '.join(parents)}",
                f"set down_revision of {max(heads)} to {min(heads)} (one line of revisions; apply takes no branch)",
                _relative(project, next(r for r in revs if r.revision == max(heads)).path)))
    return out


def check(project: Project) -> None:
    """One line for the history's first problem (or a missing layout); alembic only when the
    revision files' literals cannot vouch for the history themselves."""
    check_layout(project)
    found = problems(project)
    if found:
        raise ArbedbError(found[0].line())


def script_directory(project: Project):
    """alembic's ScriptDirectory for the project, or one line for the history's first problem."""
    from alembic.script import ScriptDirectory

    check(project)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ScriptDirectory.from_config(alembic_config(project))
