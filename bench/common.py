"""What every benchmark here does the same way: a freshly migrated scratch
database, and two timings measured interleaved (A, B, A, B, …) so that drift on
a shared machine hits both sides alike."""

from __future__ import annotations

import statistics
import sys
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tooling"))

from arbedb.commands import apply  # noqa: E402
from arbedb.config import find_project  # noqa: E402
from arbedb.testing.cluster import TestCluster  # noqa: E402


@contextmanager
def migrated_database(dsn: str | None):
    """A database at head, created (and dropped) on ``dsn``'s server, else on a
    throwaway embedded one; yields its DSN."""
    cluster = TestCluster(dsn)
    try:
        with cluster.database() as db:
            apply(find_project(Path(__file__).resolve().parent), db)
            yield db
    finally:
        cluster.close()


def interleaved_medians(repeat: int, a, b) -> tuple[float, float]:
    """Medians of ``a()`` and ``b()`` (each returns seconds) over ``repeat``
    interleaved runs, after one warm-up of each."""
    a(), b()
    ta, tb = [], []
    for _ in range(repeat):
        ta.append(a())
        tb.append(b())
    return statistics.median(ta), statistics.median(tb)
