"""Writing several files all or nothing: every text is staged in a temporary file beside
its target before any target is touched, then renamed into place; on any failure the
targets that were replaced get their old text back and the new ones are removed."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ArbedbError


class Staged:
    def __init__(self, texts: dict[Path, str]) -> None:
        self.texts = texts
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
        raise ArbedbError(f"{target}: not writable; make it writable (or run where it is) and run new-table again; "
                          "nothing was changed")
    if not os.access(folder, os.W_OK):
        raise ArbedbError(f"{folder}/: not writable; make it writable and run new-table again; nothing was changed")


def _one_line(exc: BaseException) -> BaseException:
    if isinstance(exc, OSError):
        where = exc.filename or "a file"
        return ArbedbError(f"{where}: could not write ({exc.strerror}); make it writable and run new-table again; "
                           "nothing was changed")
    return exc
