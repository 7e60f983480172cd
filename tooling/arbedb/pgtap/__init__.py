"""`arbedb export pgtap DIR`: pgTAP test files of the permission model that `supabase test db`
and `pg_prove` run with no Python at test time (docs/supabase.md, "pgTAP tests").

``00_structure.sql`` checks row level security, policies and function privileges against the
project's SQL; one ``20_matrix_<table>.sql`` per declared table executes every command as
every caller kind in a world of its own and asserts what `policies/permissions.toml` says;
``30_world_<n>.sql`` (``--worlds N --seed S``) are rls-test's generated worlds, frozen.
Same repository, same bytes; the folder's files are written all or nothing, and a file an
earlier export wrote that this one does not (a table since removed, fewer frozen worlds) is
deleted with them; a file of the folder without the export's header is the user's, and stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import Project
from ..files import publish, staged
from ..permissions import load_permissions
from ..lint.model import build_schema
from ..lint.parsing import parse
from ..lint.sources import project_sources
from .matrix import matrix_files
from .structure import structure_file
from .tap import NOTE
from .world import build

DEFAULT_FOLDER = Path("supabase/tests/database")


@dataclass
class PgtapExport:
    written: list[Path]
    assertions: int


def render(project: Project, worlds: int = 0, seed: int = 0, dsn: str | None = None) -> dict[str, tuple[str, int]]:
    """File name -> (text, number of assertions). Frozen worlds need a migrated database (``dsn``)."""
    permissions = load_permissions(project)
    schema = build_schema([parse(s) for s in project_sources(project)])  # the repository's SQL, as lint reads it
    files = {"00_structure.sql": structure_file(schema, permissions), **matrix_files(permissions, schema, build)}
    if worlds:
        from .frozen import frozen_files  # hypothesis and a database: only when worlds are asked for

        files.update(frozen_files(permissions, dsn, worlds, seed))
    return files


def export_pgtap(project: Project, folder: Path, worlds: int = 0, seed: int = 0, dsn: str | None = None) -> PgtapExport:
    files = render(project, worlds, seed, dsn)
    folder = Path(folder)
    with staged(folder, "the pgTAP tests") as tmp:
        paths = []
        for name, (text, _) in files.items():
            (tmp / name).write_text(text)
            paths.append(tmp / name)
        written = publish(paths, folder, remove=[p for p in stale(folder) if p.name not in files])
    return PgtapExport(written, sum(n for _, n in files.values()))


def stale(folder: Path) -> list[Path]:
    """The folder's files an export wrote: the header ``tap.frame`` gives every file, its first two
    lines (a title, then NOTE's first line), at the very top."""
    mine = []
    for path in sorted(Path(folder).glob("*.sql")):
        try:
            head = path.read_text().split("\n", 2)
        except (OSError, UnicodeDecodeError):
            continue  # not ours to judge, nor to delete
        if len(head) == 3 and head[0].startswith("-- arbedb pgTAP: ") and head[1] == NOTE.split("\n")[0]:
            mine.append(path)
    return mine
