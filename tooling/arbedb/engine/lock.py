"""What applies serialise on: a lock on ``arbedb.apply_lock``, not an advisory lock.

An advisory key is a number any role may lock (``pg_advisory_xact_lock`` is open to PUBLIC),
so any session, an API caller's included, could stall an apply for the whole apply_lock_wait.
The apply instead takes SHARE UPDATE EXCLUSIVE on a table of its own schema: that mode
conflicts with itself, so two applies queue, but not with ACCESS SHARE, the one mode every
role can take on any table by its oid (``pg_relation_size(oid)`` locks without a privilege
check). Taking SHARE UPDATE EXCLUSIVE needs ``LOCK TABLE`` with UPDATE, DELETE or TRUNCATE on
the table, ownership (VACUUM, ANALYZE, CREATE INDEX) or, from PostgreSQL 17, MAINTAIN; and the
schema has no USAGE for PUBLIC, so no other role can even name the table: only its owner (the
role that applies), superusers and roles granted those rights.

A fresh database has no table to lock. Its first apply creates the schema and the table in
its own transaction, so a second, concurrent first apply waits on the catalog's unique index
(the same wait, bounded by the same apply_lock_wait), then fails with a duplicate key: online,
the creation runs in a savepoint and is simply tried again, and then finds both.
"""

from __future__ import annotations

import sys

from ..config import Project
from ..errors import ArbedbError
from .sqlexec import sql_error

VERSION_SCHEMA = "arbedb"
LOCK_TABLE = f"{VERSION_SCHEMA}.apply_lock"
APPLY_APPLICATION = "arbedb apply"  # application_name of an apply's session: how a waiting apply names it
LOCK_MODE = "SHARE UPDATE EXCLUSIVE"

# Creating what is locked: harmless to repeat (IF NOT EXISTS), and never vacuumed (it has no rows).
_CREATE = (f"CREATE SCHEMA IF NOT EXISTS {VERSION_SCHEMA};\n"
           f"CREATE TABLE IF NOT EXISTS {LOCK_TABLE} () WITH (autovacuum_enabled = false);\n")
_LOCK = f"LOCK TABLE {LOCK_TABLE} IN {LOCK_MODE} MODE"


def _setting(name: str, value: str) -> str:
    return f"SELECT set_config('{name}', '{value.replace(chr(39), chr(39) * 2)}', true);\n"


def prelude_sql(project: Project) -> str:
    """The lock, first thing in every apply transaction (online the lock is already held and this is
    instant; in an exported script it is where a second runner waits)."""
    return (f"-- arbedb: serialise applies; wait at most {project.apply_lock_wait} for another one.\n"
            + _setting("lock_timeout", project.apply_lock_wait) + _CREATE
            # In a DO block: `supabase db push` runs a file as a pipeline, whose implicit transaction
            # a top-level LOCK TABLE refuses ("can only be used in transaction blocks").
            + f"DO $$ BEGIN {_LOCK}; END $$;\n"
            + f"-- arbedb: a DDL statement blocked by traffic fails after {project.lock_timeout} instead of queueing.\n"
            + _setting("lock_timeout", project.lock_timeout))


_HOLDER = f"""
SELECT a.pid, a.application_name, extract(epoch FROM now() - a.xact_start)::int
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'relation' AND l.granted AND l.mode = 'ShareUpdateExclusiveLock'
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.relation = to_regclass('{LOCK_TABLE}') AND l.pid <> pg_backend_pid()
"""


def _holder(cur) -> tuple[str, str]:
    """Who holds the apply lock, and for how long (a generic name when it is not visible to us)."""
    row = cur.execute(_HOLDER).fetchone()
    if row is None:
        return "another session holding the apply lock", ""
    pid, app, seconds = row
    who = "another arbedb apply" if app == APPLY_APPLICATION else f"another session ({app or 'no application_name'})"
    return f"{who} (pid {pid})", f" (its transaction has run {seconds}s)" if seconds is not None else ""


def _timed_out(holder: str, project: Project) -> ArbedbError:
    return ArbedbError(f"{holder} still held the apply lock after apply_lock_wait = {project.apply_lock_wait}; "
                       "nothing was applied: let it finish and re-run, or raise apply_lock_wait in [tool.arbedb]")


def take(conn, project: Project) -> None:
    """Take the apply lock on ``conn`` (a psycopg connection inside the apply's transaction) before
    the prelude re-takes it: while another apply holds it, say so; when apply_lock_wait runs out,
    name that setting and the holder, not a line of the prelude."""
    import psycopg.errors

    with conn.cursor() as cur:
        cur.execute(_setting("lock_timeout", project.apply_lock_wait))
        for attempt in (1, 2):
            cur.execute("SAVEPOINT arbedb_apply_lock")
            try:
                for statement in _CREATE.splitlines():
                    cur.execute(statement)
                break
            except psycopg.errors.UniqueViolation:
                # A concurrent first apply created them and committed while we waited: now they exist.
                cur.execute("ROLLBACK TO SAVEPOINT arbedb_apply_lock")
                if attempt == 2:
                    raise
            except psycopg.errors.LockNotAvailable:
                cur.execute("ROLLBACK TO SAVEPOINT arbedb_apply_lock")
                raise _timed_out("another arbedb apply creating the apply lock", project) from None
            except psycopg.Error as exc:  # e.g. no CREATE privilege on the database
                raise sql_error(exc, _CREATE, "arbedb prelude") from None
        try:
            cur.execute(_LOCK + " NOWAIT")
            cur.execute("RELEASE SAVEPOINT arbedb_apply_lock")
            return
        except psycopg.errors.LockNotAvailable:
            cur.execute("ROLLBACK TO SAVEPOINT arbedb_apply_lock")
        holder, since = _holder(cur)
        print(f"arbedb: waiting for {holder} to finish{since}; at most apply_lock_wait = {project.apply_lock_wait}",
              file=sys.stderr, flush=True)
        try:
            cur.execute(_LOCK)
        except psycopg.errors.LockNotAvailable:
            raise _timed_out(holder, project) from None
        cur.execute("RELEASE SAVEPOINT arbedb_apply_lock")
