"""What sqlfluff said about a file, kept until the file, sqlfluff's configuration or sqlfluff changes.

sqlfluff is most of what ``arbedb lint`` costs; on an unchanged file its answer is the
same, so it is kept in ``.arbedb/cache/sqlfluff/``, one entry per file path. An entry is
used only when its key matches, and the key covers everything sqlfluff's answer depends on
under a templater that reads nothing but the file and its configuration (``raw``,
``placeholder``; what other templaters produce is never stored):

- the file's bytes;
- every sqlfluff configuration file that could apply to it (``.sqlfluff``, ``setup.cfg``,
  ``tox.ini``, ``pep8.ini``, ``pyproject.toml``, ``.sqlfluffignore`` in each of its folders
  up to the file system's root, and in the home and user configuration folders: more than
  sqlfluff reads, so an edit can only cost a re-lint, never hide a finding);
- the versions of sqlfluff, its Rust parser and every sqlfluff plugin installed.

An entry that cannot be read, fails its checksum or belongs to other inputs is a miss:
the file is linted again and the entry replaced (written whole, then renamed into place).
A cache that cannot be written costs speed, never findings.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from importlib import metadata
from pathlib import Path

FORMAT = "arbedb-sqlfluff-cache-1"  # bump when what an entry holds changes
_CONFIG_FILES = ("setup.cfg", "tox.ini", "pep8.ini", ".sqlfluff", "pyproject.toml", ".sqlfluffignore")
_USER_DIRS = ("~/.config/sqlfluff", "~/Library/Application Support/sqlfluff", "~/Library/Preferences/sqlfluff")


def _versions() -> list[str]:
    found = []
    for name in ("sqlfluff", "sqlfluffrs"):
        try:
            found.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} absent")
    for ep in sorted(metadata.entry_points(group="sqlfluff"), key=lambda e: (e.name, e.value)):
        dist = getattr(ep, "dist", None)
        found.append(f"plugin {ep.name}={ep.value} {dist.version if dist else '?'}")
    return found


def _config_digest(folder: Path) -> bytes:
    digest = hashlib.sha256()
    for name in _CONFIG_FILES:
        try:
            data = (folder / name).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            continue
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.digest()


class Cache:
    def __init__(self, root: Path):
        self.dir = root / ".arbedb" / "cache" / "sqlfluff"
        self._root = root
        self._folders: dict[Path, bytes] = {}
        home = Path.home()
        xdg = os.environ.get("XDG_CONFIG_HOME")
        user = [home] + [Path(os.path.expanduser(d)) for d in _USER_DIRS] + ([Path(xdg) / "sqlfluff"] if xdg else [])
        self._base = hashlib.sha256("\n".join([FORMAT, *_versions()]).encode())
        for folder in user:
            self._base.update(_config_digest(folder))

    def _folder(self, folder: Path) -> bytes:
        if folder not in self._folders:
            self._folders[folder] = _config_digest(folder)
        return self._folders[folder]

    def key(self, path: str) -> str:
        file = (self._root / path).resolve()
        digest = self._base.copy()
        for folder in reversed(file.parents):
            digest.update(self._folder(folder))
        digest.update(path.encode() + b"\0")
        digest.update(file.read_bytes())
        return digest.hexdigest()

    def _entry(self, path: str) -> Path:
        return self.dir / (hashlib.sha256(path.encode()).hexdigest() + ".json")

    def get(self, path: str, key: str) -> list[dict] | None:
        try:
            entry = json.loads(self._entry(path).read_text())
            violations = entry["violations"]
            # The checksum covers this run's key: an entry for other content, other settings or
            # another sqlfluff fails it as surely as a damaged one.
            if entry["sha256"] != _checksum(key, violations):
                return None
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return violations

    def put(self, path: str, key: str, violations: list[dict]) -> None:
        text = json.dumps({"key": key, "sha256": _checksum(key, violations), "violations": violations})
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".tmp-", suffix=".json")
            try:
                with os.fdopen(fd, "w") as out:
                    out.write(text)
                os.replace(tmp, self._entry(path))
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError:
            pass  # a read-only checkout lints at full cost, with the same findings


def cacheable(templater: str | None) -> bool:
    """jinja, dbt and python templaters read macros and context files the key does not cover."""
    return (templater or "raw") in ("raw", "placeholder")


def _checksum(key: str, violations) -> str:
    return hashlib.sha256((key + json.dumps(violations, sort_keys=True)).encode()).hexdigest()
