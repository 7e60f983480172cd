"""Test machinery for the Electric plane: a pgoutput slot, callers, and shape replay.

The slot is read the way Electric reads its own: pgoutput, ``proto_version '1'``,
``publication_names`` = the project's publication. Replay materialises each
declared shape from the decoded changes alone, evaluating the declared WHERE
in PostgreSQL itself, so it agrees with Electric on every type's semantics.
"""

from __future__ import annotations

import itertools
import json
import os
from contextlib import contextmanager

import psycopg
import pytest
from psycopg import sql

from arbedb.electric import pgoutput
from arbedb.testing.impersonate import user_claims
from arbedb.electric.shapes import Shape, SyncedTable

_slots = itertools.count()
FLUSH_PREFIX = "arbedb.test.flush"


class Stream:
    """A temporary logical slot on one database; ``read()`` returns what was committed since the last read."""

    def __init__(self, dsn: str, publication: str):
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.publication = publication
        self.slot = f"arbedb_test_{os.getpid()}_{next(_slots)}"
        # Temporary: dropped with this session, so a failing test never leaves WAL pinned.
        self.conn.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput', true)", (self.slot,))

    def raw(self, messages: bool = False) -> list[bytes]:
        """The pgoutput messages committed since the last read, undecoded; consumes them."""
        # Decoding stops at the flushed end of WAL and test servers commit
        # asynchronously: a synchronous commit that wrote WAL flushes all before it.
        # (Its transaction has no published change, so pgoutput sends nothing for it
        # unless logical messages are asked for.)
        with self.conn.transaction():
            self.conn.execute("SET LOCAL synchronous_commit = on")
            self.conn.execute("SELECT pg_logical_emit_message(true, %s, '')", (FLUSH_PREFIX,))
        rows = self.conn.execute(
            "SELECT data FROM pg_logical_slot_get_binary_changes(%s, NULL, NULL, 'proto_version', '1', "
            "'publication_names', %s, 'messages', %s)",
            (self.slot, self.publication, "true" if messages else "false")).fetchall()
        return [bytes(r[0]) for r in rows]

    def read(self, messages: bool = False) -> list[pgoutput.Transaction]:
        return list(pgoutput.transactions(map(pgoutput.decode, self.raw(messages))))

    def close(self) -> None:
        self.conn.close()


def changes(transactions) -> list[pgoutput.Change]:
    return [c for t in transactions for c in t.changes]


@contextmanager
def committed_as(conn, user_id, email: str | None = "a@b.c"):
    """A transaction acting as an authenticated caller the Supabase way, committed so the stream carries it.

    (``arbedb.testing.impersonate.as_user`` is the same, always rolled back.)
    """
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SET LOCAL ROLE authenticated")
        cur.execute("SELECT set_config('request.jwt.claims', %s, true)", (json.dumps(user_claims(user_id, email)),))
        yield cur


def run_shape(conn, table: SyncedTable, shape: Shape, params: list) -> list[tuple]:
    """Rows of the shape as Electric would query them: the declared columns and WHERE, $n bound."""
    query = sql.SQL("SELECT {cols} FROM {table} WHERE ").format(
        cols=sql.SQL(", ").join(map(sql.Identifier, table.columns)),
        table=sql.Identifier(table.schema, table.name),
    ).as_string(conn) + shape.where
    return sorted(psycopg.RawCursor(conn).execute(query, params).fetchall(), key=repr)


class Replay:
    """Per (shape, params): the rows a consumer holds after applying every change to the shape.

    Like Electric, a change enters a shape when its new row matches the WHERE,
    leaves when only its old row did (move-out), and a truncate empties the
    table's shapes. Each row image is loaded into a scratch copy of the table
    (COPY, text form, as the stream sent it) and the declared WHERE is run
    over it, so matching is PostgreSQL's own.
    """

    def __init__(self, conn, table: SyncedTable, txns):
        self.conn, self.table = conn, table
        self.scratch = f"replay_{table.name}"
        columns = sql.SQL(", ").join(map(sql.Identifier, table.columns))
        conn.execute(sql.SQL("CREATE TEMP TABLE {s} AS SELECT {c} FROM {t} WITH NO DATA").format(
            s=sql.Identifier(self.scratch), c=columns, t=sql.Identifier(table.schema, table.name)))
        conn.execute(sql.SQL("ALTER TABLE {s} ADD COLUMN replay_seq int").format(s=sql.Identifier(self.scratch)))
        self.steps: list[tuple[str, int | None, int | None]] = []  # (kind, old image, new image)
        self.keys: list[tuple] = []  # primary key of each image
        images = []
        for change in changes(txns):
            if change.table != table.qualified:
                continue
            seqs = []
            for row in (change.old, change.new):
                if row is None:
                    seqs.append(None)
                    continue
                seqs.append(len(images))
                self.keys.append(tuple(row[c] for c in table.primary_key))
                images.append([row[c] for c in table.columns] + [str(len(images))])
            self.steps.append((change.kind, *seqs))
        with conn.cursor().copy(sql.SQL("COPY {s} FROM STDIN").format(s=sql.Identifier(self.scratch))) as copy:
            for image in images:
                copy.write_row(image)

    def materialise(self, shape: Shape, params: list) -> list[tuple]:
        query = f"SELECT replay_seq FROM {self.scratch} WHERE {shape.where}"
        matching = {r[0] for r in psycopg.RawCursor(self.conn).execute(query, params)}
        held: dict[tuple, int] = {}  # primary key -> the image the consumer holds
        for kind, old, new in self.steps:
            if kind == "truncate":
                held.clear()
                continue
            assert not (kind == "update" and old is None), "an UPDATE without its old row: a move-out is invisible"
            if new is not None and new in matching:
                held[self.keys[new]] = new
            elif old is not None and old in matching:
                held.pop(self.keys[old], None)  # the old row was in the shape, the new one is not: move-out
        rows = self.conn.execute(sql.SQL("SELECT {c} FROM {s} WHERE replay_seq = ANY(%s)").format(
            c=sql.SQL(", ").join(map(sql.Identifier, self.table.columns)), s=sql.Identifier(self.scratch)),
            (list(held.values()),)).fetchall()
        return sorted(rows, key=repr)


@pytest.fixture
def stream(arbedb_dsn, arbedb_project):
    """A pgoutput slot on this test's database, created before the test writes anything."""
    s = Stream(arbedb_dsn, arbedb_project.publication)
    yield s
    s.close()
