"""Decode what the ``pgoutput`` plugin sends: the stream Electric consumes.

The byte layouts are PostgreSQL's "Logical Replication Message Formats",
written down declaratively with ``construct``. Covered: Begin, Commit, Origin,
Relation, Type, Insert, Update (with its old tuple), Delete, Truncate and
logical decoding Message, as sent with streaming and two-phase off — which is
how Electric reads its slot (``proto_version '1'``); the layouts are the same
for every later protocol version with those options off.

``transactions()`` turns messages into committed transactions of row changes,
each row a ``{column: text value}`` dict (pgoutput sends values in text form).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterable, Iterator

from construct import (
    Array, Bytes, Const, CString, GreedyBytes, If, Int8ub, Int16ub, Int32sb, Int32ub, Int64sb, Int64ub, Pass,
    Peek, Prefixed, PrefixedArray, Struct, Switch, this,
)

from ..errors import ArbedbError

# A value pgoutput leaves out: an unchanged TOASTed column of an UPDATE's new row.
UNCHANGED = object()
_EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)  # PostgreSQL timestamps count from here

_text = CString("utf8")
_tuple = PrefixedArray(Int16ub, Struct(
    "kind" / Bytes(1),  # n: null, u: unchanged TOAST, t: text, b: binary
    "value" / Switch(this.kind, {b"t": Prefixed(Int32ub, GreedyBytes), b"b": Prefixed(Int32ub, GreedyBytes)},
                     default=Pass),
))
_BODIES = {
    b"B": Struct("final_lsn" / Int64ub, "commit_time" / Int64sb, "xid" / Int32ub),
    b"C": Struct("flags" / Int8ub, "commit_lsn" / Int64ub, "end_lsn" / Int64ub, "commit_time" / Int64sb),
    b"O": Struct("lsn" / Int64ub, "name" / _text),
    b"R": Struct(
        "oid" / Int32ub, "namespace" / _text, "name" / _text, "replica_identity" / Bytes(1),
        "columns" / PrefixedArray(Int16ub, Struct(
            "flags" / Int8ub, "name" / _text, "type_oid" / Int32ub, "typmod" / Int32sb)),
    ),
    b"Y": Struct("oid" / Int32ub, "namespace" / _text, "name" / _text),
    b"I": Struct("relation_oid" / Int32ub, Const(b"N"), "new" / _tuple),
    b"U": Struct(
        "relation_oid" / Int32ub,
        "old_kind" / Peek(Bytes(1)),  # K: key columns only, O: the whole old row, N: none sent
        "old" / If(this.old_kind != b"N", Struct(Bytes(1), "tuple" / _tuple)),
        Const(b"N"), "new" / _tuple,
    ),
    b"D": Struct("relation_oid" / Int32ub, "old_kind" / Bytes(1), "old" / _tuple),
    b"T": Struct("count" / Int32ub, "options" / Int8ub, "relation_oids" / Array(this.count, Int32ub)),
    b"M": Struct("flags" / Int8ub, "lsn" / Int64ub, "prefix" / _text, "content" / Prefixed(Int32ub, GreedyBytes)),
}


@dataclass(frozen=True)
class Begin:
    final_lsn: int
    commit_time: datetime
    xid: int  # the 32-bit xid: what arbe.txid() returned inside the transaction


@dataclass(frozen=True)
class Commit:
    commit_lsn: int
    end_lsn: int
    commit_time: datetime


@dataclass(frozen=True)
class Origin:
    lsn: int
    name: str


@dataclass(frozen=True)
class Column:
    name: str
    type_oid: int
    typmod: int
    key: bool  # part of the replica identity


@dataclass(frozen=True)
class Relation:
    oid: int
    namespace: str
    name: str
    replica_identity: str  # as pg_class.relreplident: d, n, f or i
    columns: tuple[Column, ...]

    @property
    def qualified(self) -> str:
        return f"{self.namespace or 'pg_catalog'}.{self.name}"


@dataclass(frozen=True)
class Type:
    oid: int
    namespace: str
    name: str


@dataclass(frozen=True)
class Insert:
    relation_oid: int
    new: tuple


@dataclass(frozen=True)
class Update:
    relation_oid: int
    old_kind: str | None  # "O" (whole old row, REPLICA IDENTITY FULL), "K" (key only) or None
    old: tuple | None
    new: tuple


@dataclass(frozen=True)
class Delete:
    relation_oid: int
    old_kind: str
    old: tuple


@dataclass(frozen=True)
class Truncate:
    relation_oids: tuple[int, ...]
    cascade: bool
    restart_identity: bool


@dataclass(frozen=True)
class Message:
    transactional: bool
    lsn: int
    prefix: str
    content: bytes


def _time(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _values(tuple_data) -> tuple:
    """Per column: None (null), UNCHANGED, or the value's bytes (text form unless sent binary)."""
    return tuple(None if c.kind == b"n" else UNCHANGED if c.kind == b"u" else bytes(c.value) for c in tuple_data)


def decode(data: bytes):
    """One pgoutput message as one of the dataclasses above."""
    tag, body = data[:1], _BODIES.get(data[:1])
    if body is None:
        raise ArbedbError(f"pgoutput: message type {tag!r} is not decoded here (streaming and two-phase must be off)")
    m = body.parse(data[1:])
    if tag == b"B":
        return Begin(m.final_lsn, _time(m.commit_time), m.xid)
    if tag == b"C":
        return Commit(m.commit_lsn, m.end_lsn, _time(m.commit_time))
    if tag == b"O":
        return Origin(m.lsn, m.name)
    if tag == b"R":
        columns = tuple(Column(c.name, c.type_oid, c.typmod, bool(c.flags & 1)) for c in m.columns)
        return Relation(m.oid, m.namespace, m.name, m.replica_identity.decode(), columns)
    if tag == b"Y":
        return Type(m.oid, m.namespace, m.name)
    if tag == b"I":
        return Insert(m.relation_oid, _values(m.new))
    if tag == b"U":
        old = None if m.old is None else _values(m.old.tuple)
        return Update(m.relation_oid, None if m.old is None else m.old_kind.decode(), old, _values(m.new))
    if tag == b"D":
        return Delete(m.relation_oid, m.old_kind.decode(), _values(m.old))
    if tag == b"T":
        return Truncate(tuple(m.relation_oids), bool(m.options & 1), bool(m.options & 2))
    return Message(bool(m.flags & 1), m.lsn, m.prefix, bytes(m.content))


@dataclass(frozen=True)
class Change:
    """One row change as a consumer sees it: the table, and the rows by column name."""

    kind: str  # "insert", "update", "delete" or "truncate"
    table: str  # "public.agents"
    old: dict | None  # {column: str | None}; for an update, the old row (REPLICA IDENTITY FULL)
    new: dict | None
    old_kind: str | None = None  # "O": the whole old row was sent; "K": key only


@dataclass
class Transaction:
    xid: int
    commit_lsn: int = 0
    changes: list[Change] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)


def transactions(messages: Iterable) -> Iterator[Transaction]:
    """Committed transactions from decoded messages, in commit order.

    A new row's UNCHANGED value is taken from the old row, as a consumer must.
    """
    relations: dict[int, Relation] = {}
    current: Transaction | None = None
    for msg in messages:
        if isinstance(msg, Relation):
            relations[msg.oid] = msg
        elif isinstance(msg, Begin):
            current = Transaction(msg.xid)
        elif isinstance(msg, Commit):
            assert current is not None, "Commit without Begin"
            current.commit_lsn = msg.commit_lsn
            yield current
            current = None
        elif isinstance(msg, Message):
            if current is not None and msg.transactional:
                current.messages.append(msg)
        elif isinstance(msg, (Insert, Update, Delete, Truncate)):
            assert current is not None, f"{type(msg).__name__} outside a transaction"
            current.changes.extend(_changes(msg, relations))


def _row(relation: Relation, values: tuple | None, fallback: dict | None = None) -> dict | None:
    if values is None:
        return None
    row = {}
    for column, value in zip(relation.columns, values, strict=True):
        if value is UNCHANGED:
            row[column.name] = (fallback or {}).get(column.name, UNCHANGED)
        else:
            row[column.name] = None if value is None else value.decode()
    return row


def _changes(msg, relations: dict[int, Relation]) -> list[Change]:
    if isinstance(msg, Truncate):
        return [Change("truncate", relations[oid].qualified, None, None) for oid in msg.relation_oids]
    relation = relations[msg.relation_oid]
    if isinstance(msg, Insert):
        return [Change("insert", relation.qualified, None, _row(relation, msg.new))]
    if isinstance(msg, Update):
        old = _row(relation, msg.old)
        return [Change("update", relation.qualified, old, _row(relation, msg.new, old), msg.old_kind)]
    return [Change("delete", relation.qualified, _row(relation, msg.old), None, msg.old_kind)]
