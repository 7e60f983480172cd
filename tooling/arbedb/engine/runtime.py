"""The migration runtime that ``migrations/env.py`` hands control to.

``alembic upgrade head`` by hand, ``arbedb down`` and any apply ``engine.direct`` does not
take come through here; ``begin`` and ``finish`` are shared with ``engine.direct``, so both
behave the same: one transaction holding the apply lock (``engine.lock``), the pending
revisions, then (on an upgrade to head) the declarative layer, the bookkeeping
and a catalog fingerprint. Any error rolls all of it back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from . import catalog, lock
from ..electric import publication
from ..config import Project, find_project
from ..errors import ArbedbError
from .declarative import STATE_TABLE, compare, declarative_files, read_record, record_sql, recorded_inputs
from .migration import sql_paths
from .lock import APPLY_APPLICATION, VERSION_SCHEMA
from .sqlexec import run_sql, statements

APPLIED_TABLE = "arbedb.applied"


@dataclass
class ApplyResult:
    steps: list[str] = field(default_factory=list)  # "upgrade 0001 (schema v1)"
    declarative: list[str] = field(default_factory=list)  # files applied
    heads: tuple[str, ...] = ()
    seconds: float = 0.0
    notices: list[str] = field(default_factory=list)  # WARNINGs the SQL raised, e.g. a skipped electric role


def prelude_sql(project: Project) -> str:
    """Lock, timeouts and bookkeeping tables; first thing in every apply transaction.

    Transaction-local settings go through ``set_config(…, true)``, not ``SET LOCAL``: the
    exported files run inside a transaction the runner holds, and ``supabase db push`` holds it
    as an extended-protocol pipeline, where ``SET LOCAL`` warns it is outside a transaction block
    although it is scoped exactly the same (to the end of the pipeline's implicit transaction)."""
    return lock.prelude_sql(project) + publication.prelude_sql(project) + f"""\
REVOKE ALL ON SCHEMA {VERSION_SCHEMA} FROM PUBLIC;
CREATE TABLE IF NOT EXISTS {STATE_TABLE} (
    path text PRIMARY KEY,
    sha256 text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS {APPLIED_TABLE} (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    catalog_sha256 text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
"""


def applied_sql() -> str:
    """The catalog fingerprint, computed by the database, into the bookkeeping: last thing an apply
    does, online or in an offline script (so a database deployed by `supabase db push` has it too)."""
    return (f"-- arbedb: the catalog fingerprint, for `arbedb status`.\n"
            f"INSERT INTO {APPLIED_TABLE} (catalog_sha256)\n{catalog.fingerprint_sql()}\n"
            "ON CONFLICT (id) DO UPDATE SET catalog_sha256 = excluded.catalog_sha256, applied_at = now();\n")


def _project_for(config) -> Project:
    if "project" in config.attributes:
        return config.attributes["project"]
    return find_project(Path(config.config_file_name).resolve().parent)


def _wants_declarative(config) -> bool:
    explicit = config.attributes.get("declarative")
    if explicit is not None:
        return explicit
    cmd = getattr(getattr(config, "cmd_opts", None), "cmd", None)
    return bool(cmd) and cmd[0].__name__ == "upgrade"


def run(context) -> None:
    """Entry point for migrations/env.py."""
    config = context.config
    project = _project_for(config)
    result = ApplyResult()
    config.attributes["result"] = result
    started = time.perf_counter()
    try:
        if context.is_offline_mode():
            _run_offline(context, project)
        else:
            _run_online(context, project, result)
    except ArbedbError as exc:
        if "project" in config.attributes:  # arbedb's own commands print it
            raise
        from alembic.util import CommandError

        # `alembic upgrade …` by hand prints a CommandError as one line and exits 1, no traceback.
        raise CommandError(str(exc)) from None
    result.seconds = time.perf_counter() - started


def _apply_declarative(mc, project: Project, files, *, label: bool = False) -> list[str]:
    """Every declarative file in order, then the record of what was applied.
    ``label`` heads each file with its path (offline scripts are read by people)."""
    for f in files:
        run_sql(mc, f.text, f.relpath, f"-- {f.relpath}\n" if label else "")
    run_sql(mc, record_sql(recorded_inputs(project, files)), "arbedb record")
    return [f.relpath for f in files]


def sql_sources(project: Project, script) -> list[tuple[str, str]]:
    """(relpath, text) of every SQL file an upgrade to head can run: each revision's ``.up.sql``
    (oldest first), then the declarative layer."""
    ups = [sql_paths(rev.path)[0] for rev in reversed(list(script.walk_revisions()))]
    return ([(p.relative_to(project.root).as_posix(), p.read_text()) for p in ups if p.is_file()]
            + [(f.relpath, f.text) for f in declarative_files(project)])


def _run_offline(context, project: Project) -> None:
    # Every file parses before the first line of the script is written: a script that stops
    # part way through is never printed.
    for relpath, text in sql_sources(project, context.script):
        statements(text, relpath)
    # ``transaction=False`` (arbedb export): no BEGIN/COMMIT of its own, for a runner that
    # already holds one transaction per file (supabase db push, psql -1).
    context.configure(
        dialect_name="postgresql", as_sql=True, literal_binds=True, version_table_schema=VERSION_SCHEMA,
        transactional_ddl=context.config.attributes.get("transaction", True), transaction_per_migration=False,
    )
    with context.begin_transaction():
        mc = context.get_context()
        run_sql(mc, prelude_sql(project), "arbedb prelude")
        context.run_migrations()
        target = context.get_revision_argument()  # already resolved to revision ids
        targets = set(target if isinstance(target, tuple) else (target,))
        if _wants_declarative(context.config) and targets == set(context.script.get_heads()):
            # A complete apply: the fingerprint too. (Not after revisions alone: an exported
            # revision file must not change when only the tool's catalog queries do.)
            _apply_declarative(mc, project, declarative_files(project), label=True)
            run_sql(mc, applied_sql(), "arbedb record")


def _keep_warning(diag, result: ApplyResult) -> None:
    """A step that skips something says so with RAISE WARNING: keep it for the caller to show."""
    if diag.severity_nonlocalized == "WARNING":
        result.notices.append(diag.message_primary)


def begin(target, raw, project: Project, result: ApplyResult) -> None:
    """First in every online apply, whichever runner: WARNINGs kept, the apply lock, the prelude."""
    raw.add_notice_handler(lambda diag: _keep_warning(diag, result))
    lock.take(raw, project)
    run_sql(target, prelude_sql(project), "arbedb prelude")
    publication.send_password(raw, project)


def finish(target, raw, project: Project, result: ApplyResult, *, declarative: bool, redeclare: bool,
           downgraded: bool, at_head: bool) -> None:
    """Last in every online apply, whichever runner: the declarative layer when it is due, the fingerprint."""
    if downgraded:
        # The declarative layer was written for head; say so until it is re-applied.
        run_sql(target, f"DELETE FROM {STATE_TABLE};", "arbedb record")
    elif declarative and at_head:
        files = declarative_files(project)
        with raw.cursor() as cur:
            changes = compare(recorded_inputs(project, files), read_record(cur))
        ran = any(not s.startswith("stamp") for s in result.steps)
        if ran or changes.any or redeclare:
            result.declarative = _apply_declarative(target, project, files)
    if result.steps or result.declarative:
        run_sql(target, applied_sql(), "arbedb record")


def _run_online(context, project: Project, result: ApplyResult) -> None:
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from ..db import open_connection, resolve_dsn

    config = context.config
    dsn = config.attributes.get("dsn") or resolve_dsn(project).dsn
    engine = create_engine("postgresql+psycopg://", poolclass=NullPool,
                           creator=lambda: open_connection(dsn, application_name=APPLY_APPLICATION))
    downgraded = []

    def on_step(ctx, step, heads, run_args):
        if step.is_upgrade is False:
            downgraded.append(step)
        verb = "stamp" if step.is_stamp else "upgrade" if step.is_upgrade else "downgrade"
        result.steps.append(f"{verb} {step.up_revision_id or 'base'}: {step.up_revision.doc if step.up_revision else ''}")

    with engine.connect() as conn:
        context.configure(
            connection=conn, version_table_schema=VERSION_SCHEMA, transactional_ddl=True,
            transaction_per_migration=False, on_version_apply=on_step,
        )
        with context.begin_transaction():
            mc = context.get_context()
            raw = conn.connection.driver_connection
            begin(mc, raw, project, result)
            context.run_migrations()
            result.heads = tuple(mc.get_current_heads())
            at_head = set(result.heads) == set(ScriptDirectory.from_config(config).get_heads())
            finish(mc, raw, project, result, declarative=_wants_declarative(config),
                   redeclare=bool(config.attributes.get("redeclare")), downgraded=bool(downgraded), at_head=at_head)
