"""What a revision file imports: its upgrade and downgrade are the SQL files beside it.

    # migrations/versions/0002_add_x.py
    from arbedb.engine.migration import sql_revision
    revision = "0002"
    down_revision = "0001"
    upgrade, downgrade = sql_revision(__file__)

reads ``0002_add_x.up.sql`` and ``0002_add_x.down.sql`` when the step runs.
"""

from __future__ import annotations

from pathlib import Path

from .sqlexec import run_sql


def sql_paths(revision_file: str | Path) -> tuple[Path, Path]:
    py = Path(revision_file)
    return py.with_suffix(".up.sql"), py.with_suffix(".down.sql")


def sql_revision(revision_file: str | Path):
    up_path, down_path = sql_paths(revision_file)

    def _runner(path: Path):
        def step() -> None:
            from alembic import op

            run_sql(op.get_context(), path.read_text(), path.relative_to(path.parents[2]))

        step.__name__ = "upgrade" if path is up_path else "downgrade"
        return step

    return _runner(up_path), _runner(down_path)
