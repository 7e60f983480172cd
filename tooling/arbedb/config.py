"""Project configuration: the one place that knows where things are.

A project is the directory holding a ``pyproject.toml`` with a ``[tool.arbedb]``
table. Everything else (migrations, declarative directories, lock timeouts, the
embedded server's home) is derived from it here and nowhere else.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ArbedbError

DEFAULT_DECLARATIVE = ("policies", "triggers", "electric")


@dataclass(frozen=True)
class Project:
    root: Path
    migrations: str = "migrations"
    declarative: tuple[str, ...] = DEFAULT_DECLARATIVE
    apply_lock_wait: str = "120s"
    lock_timeout: str = "5s"
    publication: str = "electric_publication_default"
    permissions: str = "policies/permissions.toml"  # the per-table declarations (arbedb.permissions)
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def migrations_dir(self) -> Path:
        return self.root / self.migrations

    @property
    def alembic_ini(self) -> Path:
        return self.root / "alembic.ini"

    @property
    def state_dir(self) -> Path:
        """Where the embedded server keeps its data (``.arbedb/``)."""
        return self.root / ".arbedb"

    def declarative_dirs(self) -> list[Path]:
        return [self.root / d for d in self.declarative]


def find_project(start: Path | None = None) -> Project:
    """Walk up from ``start`` (default: cwd) to the first pyproject with ``[tool.arbedb]``."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        pyproject = candidate / "pyproject.toml"
        if not pyproject.is_file():
            continue
        try:
            data = tomllib.loads(pyproject.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ArbedbError(f"{pyproject}: invalid TOML ({exc}); fix the file") from exc
        table = data.get("tool", {}).get("arbedb")
        if table is None:
            continue
        return load_project(candidate, table)
    raise ArbedbError(
        f"no arbedb project found from {here} upwards; "
        "run inside a checkout whose pyproject.toml has a [tool.arbedb] table"
    )


def load_project(root: Path, table: dict) -> Project:
    known = {"migrations", "declarative", "apply_lock_wait", "lock_timeout", "publication", "permissions"}
    kwargs = {k: v for k, v in table.items() if k in known}
    if "declarative" in kwargs:
        kwargs["declarative"] = tuple(kwargs["declarative"])
    return Project(root=root, extra={k: v for k, v in table.items() if k not in known}, **kwargs)


def database_url_from_env() -> str | None:
    return os.environ.get("DATABASE_URL") or None
