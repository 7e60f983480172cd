"""Writing files all or nothing: staged in a private folder beside the targets, then renamed.

A command that writes several files (a revision and its SQL, an export, a report) writes
them first into a temporary folder inside the destination (same filesystem, so the final
``os.replace`` is a rename), then moves them in. Anything that fails before the move leaves
the destination as it was; the staging folder goes with the ``with`` block. An unwritable
destination (a read-only checkout, a file where a folder must be) is one line, not a
traceback.
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


def publish(paths: list[Path], folder: Path) -> list[Path]:
    """Move staged ``paths`` into ``folder`` under the same names; the final paths."""
    out = []
    for path in paths:
        target = Path(folder) / Path(path).name
        os.replace(path, target)
        out.append(target)
    return out


def write_one(path: Path, text: str, what: str) -> Path:
    """``text`` into ``path`` all or nothing (a reader never sees half of it)."""
    path = Path(path)
    with staged(path.parent, what) as tmp:
        staged_file = tmp / path.name
        staged_file.write_text(text)
        return publish([staged_file], path.parent)[0]
