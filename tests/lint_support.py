"""Helpers for the lint tests: run the arbedb engine on a fixture, read its expectations."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from arbedb.config import Project
from arbedb.lint.parsing import parse
from arbedb.lint.semantic import check_sources
from arbedb.lint.sources import Source, project_sources

FIXTURES = Path(__file__).parent / "fixtures" / "lint"
SINGLE_FILE_PATH = "migrations/versions/0001_fixture.up.sql"
_EXPECT = re.compile(r"--.*expect: ((?:ARB\d{3}(?:, )?)+)")


def fixture_sources(fixture: Path) -> tuple[list[Source], Project | None]:
    if fixture.is_dir():
        project = Project(root=fixture)
        return project_sources(project), project
    return [Source(fixture.read_text(), "up", SINGLE_FILE_PATH)], None


def lint_fixture(fixture: Path):
    """All arbedb-engine findings for a fixture; a single file syncs every public table it creates."""
    sources, project = fixture_sources(fixture)
    if project is not None:
        return check_sources(sources, project)
    from arbedb.lint.model import build_schema

    synced = frozenset(t.name for t in build_schema([parse(s) for s in sources]).public_tables())
    return check_sources(sources, synced=synced)


def expected(fixture: Path) -> Counter:
    """Counter of (path, line, code) from the `-- expect: ARBnnn` markers."""
    out: Counter = Counter()
    files = sorted(fixture.rglob("*.sql")) if fixture.is_dir() else [fixture]
    for file in files:
        rel = file.relative_to(fixture).as_posix() if fixture.is_dir() else SINGLE_FILE_PATH
        for number, line in enumerate(file.read_text().splitlines(), 1):
            match = _EXPECT.search(line)
            if match:
                for code in match.group(1).split(", "):
                    out[(rel, number, code)] += 1
    return out


def fixture(code: str, kind: str) -> Path:
    folder = FIXTURES / code
    return folder / kind if (folder / kind).is_dir() else folder / f"{kind}.sql"
