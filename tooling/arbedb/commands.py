"""The command layer: one importable function per migration command (the CLI wraps these)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .engine import catalog
from .config import Project
from .engine.declarative import DeclarativeChanges, compare, read_record, recorded_inputs
from .errors import ArbedbError, first_line, unusable_database
from .engine.history import alembic_config, script_directory
from .engine.migration import sql_paths
from .engine.runtime import APPLIED_TABLE, VERSION_SCHEMA, ApplyResult


def _run_alembic(fn, cfg, *args, **kwargs) -> ApplyResult:
    import sqlalchemy.exc
    from alembic.util import CommandError

    try:
        fn(cfg, *args, **kwargs)
    except CommandError as exc:
        raise ArbedbError(f"alembic: {exc}") from None
    except sqlalchemy.exc.OperationalError as exc:
        raise unusable_database(first_line(exc.orig) if exc.orig else str(exc)) from None
    return cfg.attributes["result"]


def apply(project: Project, dsn: str, *, redeclare: bool = False) -> ApplyResult:
    """Upgrade to head, then the declarative layer; one transaction under the apply lock. arbedb's
    own runner when it provably does what alembic would (engine/direct.py), else alembic."""
    from .engine import direct
    from .engine.history import check

    check(project)
    revisions = direct.plan(project)
    if revisions is not None:
        done = direct.apply(project, dsn, revisions, redeclare=redeclare)
        if done is not None:
            return done
    from alembic import command

    cfg = alembic_config(project, dsn, declarative=True, redeclare=redeclare)
    return _run_alembic(command.upgrade, cfg, "head")


def offline_sql(project: Project, target: str = "head", *, declarative: bool = True,
                transaction: bool = True) -> str:
    """The SQL `alembic upgrade --sql` emits, declarative layer included when the target is head
    (``declarative=False``: the revisions alone, as `arbedb export` writes one per file;
    ``transaction=False``: without BEGIN/COMMIT, for a runner that holds the transaction)."""
    import io

    from alembic import command

    buf = io.StringIO()
    cfg = alembic_config(project, None, declarative=declarative, transaction=transaction)
    cfg.output_buffer = buf
    _run_alembic(command.upgrade, cfg, target, sql=True)
    return buf.getvalue()


def down(project: Project, dsn: str, revision: str = "-1") -> ApplyResult:
    """Downgrade; at base, ``base`` is nothing to do and a step back is an error."""
    from alembic import command

    from .db import connect, where

    script_directory(project)
    with connect(dsn) as conn:
        at = current_revisions(conn)
    if at == ():
        if revision == "base":
            return ApplyResult()
        raise ArbedbError(f"{where(dsn)} is at base (no revision applied): there is nothing to downgrade")
    cfg = alembic_config(project, dsn, declarative=False)
    return _run_alembic(command.downgrade, cfg, revision)


def current_revisions(conn) -> tuple[str, ...] | None:
    """The revisions applied to ``conn``'s database (empty: base, nothing applied; None: this role
    may not read arbedb's bookkeeping, e.g. a restricted role rls-test runs as)."""
    with conn.cursor() as cur:
        cur.execute("SELECT has_schema_privilege(oid, 'USAGE') FROM pg_namespace WHERE nspname = %s",
                    (VERSION_SCHEMA,))
        usage = cur.fetchone()
        if usage is None:
            return ()
        if not usage[0]:
            return None
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{VERSION_SCHEMA}.alembic_version",))
        if not cur.fetchone()[0]:
            return ()
        cur.execute(f"SELECT version_num FROM {VERSION_SCHEMA}.alembic_version")
        return tuple(r[0] for r in cur.fetchall())


def require_head(project: Project, dsn: str) -> None:
    """The one message for a command that needs a migrated database and was given another."""
    from .db import connect, where

    heads = set(script_directory(project).get_heads())
    with connect(dsn) as conn:
        found = current_revisions(conn)
        conn.rollback()
    at = heads if found is None else set(found)  # unreadable: the command's own errors will tell
    if at != heads:
        state = f"is behind (at {', '.join(sorted(at))}" if at else "is not migrated (no revision applied"
        raise ArbedbError(f"{where(dsn)} {state}; head is {', '.join(sorted(heads))}): "
                          "run `arbedb apply` against it first")


@dataclass
class Status:
    current: tuple[str, ...]
    heads: tuple[str, ...]
    pending: list[str]  # "0002 add x", oldest first
    declarative: DeclarativeChanges
    drift: str  # one line


def status(project: Project, dsn: str) -> Status:
    from .db import connect

    script = script_directory(project)
    heads = tuple(script.get_heads())
    with connect(dsn) as conn, conn.cursor() as cur:
        current = current_revisions(conn) or ()
        pending = [
            f"{rev.revision} {rev.doc}"
            for rev in reversed(list(script.iterate_revisions("heads", current or "base")))
            if rev.revision not in current
        ] if set(current) != set(heads) else []
        changes = compare(recorded_inputs(project), read_record(cur))
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", (APPLIED_TABLE,))
        recorded = None
        if cur.fetchone()[0]:
            cur.execute(f"SELECT catalog_sha256, applied_at FROM {APPLIED_TABLE}")
            recorded = cur.fetchone()
        if recorded is None:
            drift = "unknown: nothing applied by arbedb yet"
        elif catalog.fingerprint(conn) == recorded[0]:
            drift = f"none: the catalog is as the last apply ({recorded[1]:%Y-%m-%d %H:%M:%S %Z}) left it"
        else:
            drift = (f"the catalog changed since the last apply ({recorded[1]:%Y-%m-%d %H:%M:%S %Z}): "
                     "something was altered by hand; `arbedb apply --redeclare` restores the declarative layer")
        conn.rollback()
    return Status(current, heads, pending, changes, drift)


_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
NAME_LIMIT = 63  # PostgreSQL's identifier length (NAMEDATALEN - 1); alembic would cut the file name at 40

UP_TEMPLATE = """\
-- {rev} {name}: upgrade.
-- Runs verbatim inside the apply transaction (no BEGIN/COMMIT here).
-- If this touches a synced table, say so: Electric drops that table's shapes
-- and clients re-sync them.
"""
DOWN_TEMPLATE = """\
-- {rev} {name}: downgrade; undo exactly what the .up.sql does, in reverse order.
"""


def new(project: Project, name: str, *, up_sql: str | None = None, down_sql: str | None = None) -> list[Path]:
    """A new revision: the alembic file and its .up.sql / .down.sql, all three or none."""
    import argparse
    import os

    from alembic import command

    from .files import publish, staged

    if len(name) > NAME_LIMIT:
        raise ArbedbError(f"revision name is {len(name)} characters long; at most {NAME_LIMIT} (PostgreSQL's "
                          "identifier length, and it is part of three file names): shorten it")
    if not _NAME.match(name):
        raise ArbedbError(f"revision name {name!r}: use lower_snake_case letters, digits and _ (e.g. add_labels)")
    script_dir = script_directory(project)
    numbers = [int(r.revision) for r in script_dir.walk_revisions() if r.revision.isdigit()]
    rev_id = f"{max(numbers, default=0) + 1:04d}"
    versions = project.migrations_dir / "versions"
    with staged(versions, f"revision {rev_id}") as tmp:
        cfg = alembic_config(project)
        # The staging folder is a second version location, so alembic chains the new file to head.
        cfg.set_main_option("version_locations", f"{versions}{os.pathsep}{tmp}")
        cfg.set_main_option("truncate_slug_length", str(NAME_LIMIT))
        # alembic would announce the staging path ("Generating …/.arbedb-staging-…"); the
        # caller prints the final paths instead.
        cfg.cmd_opts = argparse.Namespace(quiet=True)
        script = command.revision(cfg, message=name, rev_id=rev_id, version_path=str(tmp))
        up, down_ = sql_paths(script.path)
        up.write_text(up_sql if up_sql is not None else UP_TEMPLATE.format(rev=rev_id, name=name))
        down_.write_text(down_sql if down_sql is not None else DOWN_TEMPLATE.format(rev=rev_id, name=name))
        return publish([Path(script.path), up, down_], versions)
