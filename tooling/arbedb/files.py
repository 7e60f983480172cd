"""Writing files all or nothing.

Two pieces, one guarantee: ``staged`` gives a command a private folder inside the
destination to generate files in (alembic writes a revision's script there, the export its
migrations), and ``Staged`` moves texts into place all or nothing: each staged beside its
target (same filesystem, so the final ``os.replace`` is a rename), a read-only target
refused before anything is touched, and on any failure the targets already replaced get
their old text back and the new ones are removed. ``publish`` is the two together. An
unwritable destination (a read-only checkout, a file where a folder must be) is one line,
not a traceback.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .errors import ArbedbError


@contextmanager
def staged(folder: Path, what: str):
    """Yield a staging folder inside ``folder`` (created if missing); ``what`` names the files for the error."""
    folder = Path(folder)
    clash = next((p for p in [folder, *folder.parents] if p.exists() and not p.is_dir()), None)
    if clash is not None:
        raise ArbedbError(f"cannot write {what} in {folder}: {clash} is a file, not a folder; "
                          "nothing was written: choose another place")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder, prefix=".arbedb-staging-") as tmp:
            yield Path(tmp)
    except OSError as exc:
        raise ArbedbError(f"cannot write {what} in {folder} ({exc.strerror or exc}); nothing was written: "
                          "make that folder writable or choose another one") from None


def publish(paths: list[Path], folder: Path, remove: list[Path] = ()) -> list[Path]:
    """Move staged ``paths`` into ``folder`` under the same names and delete ``remove`` (files an
    earlier run wrote that this one no longer does), all or nothing; the final paths."""
    targets = {Path(folder) / Path(path).name: Path(path).read_text() for path in paths}
    with Staged(targets, remove) as files:
        files.commit()
    return list(targets)


def write_one(path: Path, text: str, what: str) -> Path:
    """``text`` into ``path`` all or nothing (a reader never sees half of it)."""
    path = Path(path)
    with staged(path.parent, what) as tmp:
        staged_file = tmp / path.name
        staged_file.write_text(text)
        return publish([staged_file], path.parent)[0]


class Staged:
    """Several files written all or nothing, possibly over existing ones and in several
    folders: every text is staged in a temporary file beside its target before any
    target is touched, then renamed into place (``commit``); on any failure the targets
    that were replaced get their old text back and the new ones are removed. ``remove``: files
    deleted after the renames, and written back with their old text on a failure."""

    def __init__(self, texts: dict[Path, str], remove: list[Path] = ()) -> None:
        self.texts = texts
        self.remove = [Path(p) for p in remove if Path(p) not in texts]
        self.removed: list[Path] = []
        self.originals: dict[Path, str | None] = {}
        self.temps: dict[Path, Path] = {}
        self.replaced: list[Path] = []
        self.revision_files: list[Path] = []

    def __enter__(self) -> Staged:
        try:
            for target, text in self.texts.items():
                _writable(target)
                self.originals[target] = target.read_text() if target.exists() else None
                temp = target.with_name(f".{target.name}.arbedb-staged")
                self.temps[target] = temp
                temp.write_text(text)
            for target in self.remove:
                _writable(target)
                self.originals[target] = target.read_text()
        except BaseException as exc:
            self._undo()
            raise _one_line(exc) from None
        return self

    def revision(self, folder: Path, make) -> None:
        """Run ``make`` (which writes a revision's files into ``folder``); what it creates is
        removed again on failure, as the staged files are."""
        before = set(folder.iterdir())
        try:
            make()
        finally:
            self.revision_files = sorted(set(folder.iterdir()) - before)

    def commit(self) -> None:
        for target, temp in self.temps.items():
            os.replace(temp, target)
            self.replaced.append(target)
        for target in self.remove:
            target.unlink()
            self.removed.append(target)

    def __exit__(self, kind, exc, tb) -> bool:
        if exc is None:
            return False
        self._undo()
        raise _one_line(exc) from None

    def _undo(self) -> None:
        for temp in self.temps.values():
            temp.unlink(missing_ok=True)
        for path in self.revision_files:
            path.unlink(missing_ok=True)
        for target in reversed(self.removed):
            target.write_text(self.originals[target])
        for target in reversed(self.replaced):
            old = self.originals[target]
            if old is None:
                target.unlink(missing_ok=True)
            else:
                target.write_text(old)


def _writable(target: Path) -> None:
    """A read-only target is the user saying no: refuse it rather than rename over it."""
    folder = target.parent
    if target.exists() and not os.access(target, os.W_OK):
        raise ArbedbError(f"{target}: not writable; make it writable (or run where it is) and run the command again; "
                          "nothing was written")
    if not os.access(folder, os.W_OK):
        raise ArbedbError(f"{folder}/: not writable; make it writable and run the command again; nothing was written")


def _one_line(exc: BaseException) -> BaseException:
    if isinstance(exc, OSError):
        where = exc.filename or "a file"
        return ArbedbError(f"{where}: could not write ({exc.strerror}); make it writable and run the command again; "
                           "nothing was written")
    return exc
