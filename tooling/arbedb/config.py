"""Project configuration: the one place that knows where things are.

A project is the directory holding a ``pyproject.toml`` with a ``[tool.arbedb]``
table. Everything else (migrations, declarative directories, lock timeouts, the
embedded server's home) is derived from it here and nowhere else.
"""

from __future__ import annotations

import re
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
    """The project, checked before any command acts on it (or starts a server for it)."""
    known = {"migrations", "declarative", "apply_lock_wait", "lock_timeout", "publication", "permissions"}
    kwargs = {k: v for k, v in table.items() if k in known}
    where = f"{root / 'pyproject.toml'} [tool.arbedb]"
    for key in ("migrations", "apply_lock_wait", "lock_timeout", "publication", "permissions"):
        if key in kwargs and not (isinstance(kwargs[key], str) and kwargs[key].strip()):
            raise ArbedbError(f"{where}: {key} = {kwargs[key]!r} must be a non-empty string")
    if "declarative" in kwargs:
        if not isinstance(kwargs["declarative"], list) or not all(isinstance(d, str) for d in kwargs["declarative"]):
            raise ArbedbError(f"{where}: declarative must be a list of folder names, e.g. {list(DEFAULT_DECLARATIVE)}")
        kwargs["declarative"] = tuple(kwargs["declarative"])
    for key in ("apply_lock_wait", "lock_timeout"):
        if key in kwargs and not _DURATION.match(kwargs[key]):
            raise ArbedbError(f"{where}: {key} = {kwargs[key]!r} is not a duration; write e.g. '120s', '500ms' or '2min'")
    project = Project(root=root, extra={k: v for k, v in table.items() if k not in known}, **kwargs)
    # A folder the configuration names must exist (a typo would silently lint or apply nothing);
    # default folders may be absent until a command needs them (check_layout).
    if "migrations" in kwargs and not project.migrations_dir.is_dir():
        raise ArbedbError(f"{where}: migrations = {project.migrations!r}, but {project.migrations_dir} does not "
                          "exist; point migrations at the folder holding env.py and versions/")
    for folder in project.declarative_dirs() if "declarative" in kwargs else ():
        if not folder.is_dir():
            raise ArbedbError(f"{where}: declarative folder {folder} does not exist; "
                              "create it or remove it from declarative")
    return project


# What PostgreSQL's lock_timeout accepts as a duration (a bare number is milliseconds).
_DURATION = re.compile(r"^\s*\d+(\.\d+)?\s*(us|ms|s|min|h|d)?\s*$")


def check_layout(project: Project) -> None:
    """What alembic needs before a command that reads the revision history runs."""
    where = f"{project.root / 'pyproject.toml'} [tool.arbedb]"
    if not project.alembic_ini.is_file():
        raise ArbedbError(f"{project.alembic_ini}: missing; alembic (and `alembic upgrade head`) need it at the "
                          "project root: restore it from the template project")
    env = project.migrations_dir / "env.py"
    if not env.is_file():
        raise ArbedbError(f"{where}: migrations = {project.migrations!r}, but {env} does not exist; "
                          "point migrations at the folder holding env.py and versions/")
