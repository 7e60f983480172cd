"""The SQL a project is made of, in the order `arbedb apply` runs it.

Roles: ``up`` and ``down`` for a revision's two files, ``declarative`` for
policies/, triggers/, electric/. Revisions are ordered by file name: `arbedb new`
numbers them (``0003_add_labels``), so name order is chain order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import Project
from ..engine.declarative import declarative_files


@dataclass(frozen=True)
class Source:
    """One unit of SQL: a file (``path``) or, in verify, one catalog object (``object``)."""

    text: str
    role: str  # "up", "down", "declarative" or "catalog"
    path: str | None = None  # relative to the project root, forward slashes
    object: str | None = None

    @property
    def name(self) -> str:
        return self.path or self.object or "?"


@dataclass(frozen=True)
class Revision:
    stem: str  # "migrations/versions/0002_schema_v1"
    up: Path
    down: Path


def versions_dir(project: Project) -> Path:
    return project.migrations_dir / "versions"


def revisions(project: Project) -> list[Revision]:
    """Every revision with its .py or .up.sql, oldest first."""
    folder = versions_dir(project)
    if not folder.is_dir():
        return []
    stems = {p.name.split(".")[0] for p in folder.iterdir()
             if p.suffix in (".py", ".sql") and not p.name.startswith("__")}
    return [Revision(_rel(project, folder / stem), folder / f"{stem}.up.sql", folder / f"{stem}.down.sql")
            for stem in sorted(stems)]


def _rel(project: Project, path: Path) -> str:
    return path.relative_to(project.root).as_posix()


def project_sources(project: Project) -> list[Source]:
    """Upgrades in chain order, then the declarative layer in apply order, then downgrades."""
    revs = revisions(project)
    ups = [Source(r.up.read_text(), "up", _rel(project, r.up)) for r in revs if r.up.is_file()]
    downs = [Source(r.down.read_text(), "down", _rel(project, r.down)) for r in revs if r.down.is_file()]
    declarative = [Source(f.text, "declarative", f.relpath) for f in declarative_files(project)]
    return ups + declarative + downs
