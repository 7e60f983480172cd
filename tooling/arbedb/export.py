"""`arbedb export supabase DIR`: the project as Supabase CLI migrations, for `supabase db push`.

One file per revision (``<14-digit UTC timestamp>_arbedb_<revision file stem>.sql``),
then one file holding the whole declarative layer
(``<timestamp>_arbedb_declarative_<sha8>.sql``). Every file is the SQL
``alembic upgrade --sql`` emits for that step (``commands.offline_sql``), so it
takes the apply lock and writes arbedb's bookkeeping exactly as
``arbedb apply`` does: a database deployed by ``supabase db push`` then reads
as applied to ``arbedb status`` and ``arbedb apply``.

The folder is the record of what was exported: each file's first line names
what it holds. Re-exporting keeps every file that is still right and appends,
with a later timestamp, what is new: a new revision, and after it (or after a
change to policies/, triggers/ or electric/) a new declarative file. A deployed
migration is never edited; a revision that changed after its export is an
error, since Supabase would never run it again.

``supabase db push`` splits each file at semicolons with a scanner of its own, not
PostgreSQL's: it takes ``\\'`` in an ``E'…'`` string for the string's end, and a ``;``
inside parentheses (a rule's action list) for a statement's end. Both would make it
run a different set of statements than the file holds, so the export refuses them
with ``file:line`` (``supabase_cli_hazards``) and writes nothing.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .commands import offline_sql
from .engine.history import script_directory
from .config import Project
from .engine.runtime import sql_sources
from .engine.sqlexec import statements, where
from .errors import ArbedbError
from .files import publish, staged

_VERSION = re.compile(r"^(\d{14})_.+\.sql$")
_HEADER = re.compile(r"^-- arbedb export: (?:revision (?P<rev>\S+)|declarative layer (?P<sha>[0-9a-f]{64}))")
_STAMP = "%Y%m%d%H%M%S"
NOTE = ("-- Written by `arbedb export supabase`; do not edit. Change the project and export again:\n"
        "-- a new migration is appended, deployed ones are never rewritten.\n")


@dataclass(frozen=True)
class Migration:
    key: str  # "revision 0002" or "declarative layer <sha256>": the first line names it
    slug: str  # the file name after the timestamp
    body: str

    @property
    def text(self) -> str:
        return f"-- arbedb export: {self.key}\n{NOTE}\n{self.body}"


@dataclass
class ExportResult:
    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)


def wanted(project: Project) -> tuple[list[Migration], Migration]:
    """The revisions in chain order, and the declarative layer as of head."""
    script = script_directory(project)
    heads = script.get_heads()
    for relpath, text in sql_sources(project, script):
        supabase_cli_hazards(text, relpath)
    revisions = []
    for rev in reversed(list(script.walk_revisions())):
        start = rev.down_revision or "base"
        body = offline_sql(project, f"{start}:{rev.revision}", declarative=False, transaction=False)
        revisions.append(Migration(f"revision {rev.revision}", f"arbedb_{Path(rev.path).stem}", body))
    body = offline_sql(project, f"{heads[0]}:head", transaction=False)
    sha = hashlib.sha256(body.encode()).hexdigest()
    return revisions, Migration(f"declarative layer {sha}", f"arbedb_declarative_{sha[:8]}", body)


def supabase_cli_hazards(sql: str, source: str) -> None:
    """ArbedbError at the first place the Supabase CLI would split ``sql`` other than PostgreSQL does."""
    from pglast import scan

    for offset, text in statements(sql, source):
        for token in scan(text):
            fix = None
            if token.name == "ASCII_59":
                fix = "a `;` inside a statement (a rule's action list): write one rule per action"
            elif token.name == "SCONST" and text[token.start] in "eE" and _escaped_quote(text[token.start:token.end + 1]):
                fix = "a backslash-escaped quote in an E'' string: write the quote twice ('') instead"
            if fix:
                raise ArbedbError(f"{where(sql, source, offset + token.start)}: `supabase db push` would split this file "
                                  f"otherwise than PostgreSQL does, at {fix}; nothing was exported")


def _escaped_quote(literal: str) -> bool:
    i = 2  # past E'
    while i < len(literal) - 1:
        if literal[i] == "\\":
            if literal[i + 1] == "'":
                return True
            i += 2
        else:
            i += 1
    return False


def _existing(folder: Path) -> tuple[list[tuple[str, Path]], str | None]:
    """(first-line key, path) of every arbedb file in version order, and the latest version of any file."""
    ours, latest = [], None
    for path in sorted(folder.glob("*.sql")) if folder.is_dir() else []:
        match = _VERSION.match(path.name)
        if not match:
            continue
        latest = match.group(1)
        header = _HEADER.match(path.read_text().split("\n", 1)[0])
        if header:
            ours.append((header.group(0).removeprefix("-- arbedb export: "), path))
    return ours, latest


def plan(project: Project, folder: Path) -> tuple[list[Migration], list[Path]]:
    """What to append (in order) and which existing files stay; raises before anything is written."""
    revisions, declarative = wanted(project)
    ours, _ = _existing(folder)
    exported = {key: path for key, path in ours if key.startswith("revision ")}
    known = {m.key for m in revisions}
    for key, path in exported.items():
        if key not in known:
            raise ArbedbError(f"{path}: exports {key}, which the project no longer has; "
                              "restore the revision, or delete the file if it was never pushed")
    new: list[Migration] = []
    for migration in revisions:
        path = exported.get(migration.key)
        if path is None:
            new.append(migration)
        elif new:
            raise ArbedbError(f"{path}: {migration.key} was exported after {new[0].key}, which was not; "
                              "revisions must be exported in chain order: delete the out-of-order files never pushed")
        elif path.read_text() != migration.text:
            raise ArbedbError(f"{path}: {migration.key} changed since it was exported, and Supabase never re-runs a "
                              "pushed migration; undo the change and put it in a new revision (`arbedb new`)")
    last_declarative = next((key for key, _ in reversed(ours) if not key.startswith("revision ")), None)
    after_last_revision = not ours or not ours[-1][0].startswith("revision ")
    if new or last_declarative != declarative.key or not after_last_revision:
        new.append(declarative)
    return new, [path for _, path in ours]


def export_supabase(project: Project, folder: Path, *, now: datetime | None = None) -> ExportResult:
    """Append to ``folder`` (a Supabase ``supabase/migrations``) whatever is not exported yet."""
    new, kept = plan(project, folder)
    _, latest = _existing(folder)
    stamp = (now or datetime.now(timezone.utc)).replace(microsecond=0, tzinfo=None)
    if latest is not None:
        stamp = max(stamp, datetime.strptime(latest, _STAMP) + timedelta(seconds=1))
    result = ExportResult(kept=kept)
    if not new:
        return result
    with staged(folder, "the Supabase migrations") as tmp:
        files = []
        for migration in new:
            files.append(tmp / f"{stamp.strftime(_STAMP)}_{migration.slug}.sql")
            files[-1].write_text(migration.text)
            stamp += timedelta(seconds=1)
        result.written = publish(files, folder)
    return result
