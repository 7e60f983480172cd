"""The declarative layer: policies/, triggers/, electric/ re-applied after the revisions.

Order (documented in docs/apply.md): the directories in ``[tool.arbedb].declarative``
order (policies, then triggers, then electric), and inside each the ``.sql``
files sorted by their path, so a numeric prefix (``10_houses.sql``) orders them.

Each file must be idempotent (``CREATE OR REPLACE``, ``DROP … IF EXISTS`` then
``CREATE``). What was applied is recorded per file with its SHA-256 in
``arbedb.declarative_state`` so ``arbedb status`` can name the files that changed.
The whole layer is re-applied, in order, whenever any revision ran or any file
was added, removed or changed: a revision that recreates a table drops the
policies on it, and only a full pass puts them all back.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from ..config import Project

STATE_TABLE = "arbedb.declarative_state"


@dataclass(frozen=True)
class DeclarativeFile:
    relpath: str  # relative to the project root, with forward slashes
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


def declarative_files(project: Project) -> list[DeclarativeFile]:
    files: list[DeclarativeFile] = []
    for directory in project.declarative_dirs():
        if not directory.is_dir():
            continue
        for path in sorted(directory.rglob("*.sql"), key=lambda p: p.relative_to(directory).as_posix()):
            files.append(DeclarativeFile(path.relative_to(project.root).as_posix(), path.read_text()))
    return files


def recorded_inputs(project: Project, files: list[DeclarativeFile] | None = None) -> list[DeclarativeFile]:
    """What the layer's record covers: its SQL files (``files``, when already read),
    and the shape declarations, whose tables electric/10_publication.sql publishes
    (the apply prelude hands them over). A change to either re-applies the layer."""
    from ..electric.shapes import shapes_path

    inputs = list(declarative_files(project) if files is None else files)
    shapes = shapes_path(project)
    if shapes.is_file():
        inputs.append(DeclarativeFile(shapes.relative_to(project.root).as_posix(), shapes.read_text()))
    return inputs


@dataclass(frozen=True)
class DeclarativeChanges:
    changed: list[str]
    added: list[str]
    removed: list[str]

    @property
    def any(self) -> bool:
        return bool(self.changed or self.added or self.removed)

    def lines(self) -> list[str]:
        return ([f"changed  {p}" for p in self.changed] + [f"new      {p}" for p in self.added]
                + [f"removed  {p}" for p in self.removed])


def compare(files: list[DeclarativeFile], recorded: dict[str, str]) -> DeclarativeChanges:
    current = {f.relpath: f.sha256 for f in files}
    return DeclarativeChanges(
        changed=sorted(p for p in current if p in recorded and recorded[p] != current[p]),
        added=sorted(p for p in current if p not in recorded),
        removed=sorted(p for p in recorded if p not in current),
    )


def record_sql(files: list[DeclarativeFile]) -> str:
    """SQL that replaces the record with ``files`` (also emitted into offline scripts)."""
    rows = ",\n  ".join(f"('{f.relpath.replace(chr(39), chr(39) * 2)}', '{f.sha256}')" for f in files)
    sql = f"DELETE FROM {STATE_TABLE};\n"
    if rows:
        sql += f"INSERT INTO {STATE_TABLE} (path, sha256) VALUES\n  {rows};\n"
    return sql


def read_record(cursor) -> dict[str, str]:
    """Path -> sha256 as last applied; empty when nothing was ever applied."""
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", (STATE_TABLE,))
    if not cursor.fetchone()[0]:
        return {}
    cursor.execute(f"SELECT path, sha256 FROM {STATE_TABLE}")
    return dict(cursor.fetchall())
