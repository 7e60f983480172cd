"""A model of how Electric (1.6+) keeps a subquery shape, replayed from the pgoutput stream.

What it reproduces of Electric (docs/electric.md, "Subquery shapes"):

- each subquery is a shape of its own over the inner table, with the outer shape's params;
  its *view* is the set of values its SELECT returns;
- a transaction's changes to the outer table are matched against the WHERE with the views
  as they were before the transaction (Electric converts buffered transactions before a
  move's splice point with the old views);
- then the transaction's moves: a value leaving a view is a move-out, applied first (the
  client drops the rows tagged with it that no other disjunct keeps), a value entering it a
  move-in, whose query Electric runs against PostgreSQL: rows matching the WHERE with the
  new views and not with the old ones, spliced into the log as inserts.

Views are values, not SQL: the subquery is replaced by ``outer::text = ANY($k::text[])``
over the view's values, as Electric's move-in query binds them, so matching is PostgreSQL's
own and the subquery's table is read only through the stream. The scratch tables live in a
connection of their own.
"""

from __future__ import annotations

import itertools

import psycopg
from pglast import ast, parse_sql
from psycopg import sql

from arbedb.electric.shapes import Shape, Shapes
from arbedb.electric.where import printed

_names = itertools.count()


def _outer_text(columns) -> str:
    return f"{columns[0]}::text" if len(columns) == 1 else f"ROW({', '.join(columns)})::text"


def rewrite(where: str, first_param: int, typed: bool = False) -> str:
    """The WHERE with its k-th subquery replaced by ``outer::text = ANY($(first_param + k)::text[])``, or with
    ``typed`` by ``outer = ANY($(first_param + k))`` (bound to an array of the column's type, as Electric's
    move-in query is, so an index on the column serves it)."""
    stmt = parse_sql(f"SELECT WHERE {where}")[0].stmt
    count = itertools.count(first_param)

    def swap(node):
        if isinstance(node, tuple):
            return tuple(swap(n) for n in node)
        if not isinstance(node, ast.Node):
            return node
        if isinstance(node, ast.SubLink):
            test = node.testexpr
            outer = [c.fields[-1].sval for c in ([test] if isinstance(test, ast.ColumnRef) else test.args)]
            left, right = ((outer[0] if len(outer) == 1 else f"ROW({', '.join(outer)})", "")
                           if typed else (_outer_text(outer), "::text[]"))
            return parse_sql(f"SELECT {left} = ANY(${next(count)}{right})")[0].stmt.targetList[0].val
        for name in node:
            value = getattr(node, name)
            if isinstance(value, (ast.Node, tuple)):
                setattr(node, name, swap(value))
        return node

    return printed(swap(stmt.whereClause))


class Mirror:
    """The synced tables as the stream tells them: every row image seen, and which image each key holds now."""

    def __init__(self, dsn: str, shapes: Shapes, tables):
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.shapes = shapes
        self.tables = {shapes.table(t).qualified: shapes.table(t) for t in tables}
        self.scratch = {}
        self.columns = {}
        for name, table in self.tables.items():
            scratch = f"images_{table.name}_{next(_names)}"
            self.conn.execute(sql.SQL("CREATE TEMP TABLE {} (LIKE {}, seq int PRIMARY KEY)").format(
                sql.Identifier(scratch), sql.Identifier(table.schema, table.name)))
            self.scratch[name] = scratch
            self.columns[name] = [r[0] for r in self.conn.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
                "AND NOT attisdropped ORDER BY attnum", (name,))]
        self.state: dict[str, dict[tuple, int]] = {name: {} for name in self.tables}  # table -> key -> image
        self.keys: dict[str, dict[int, tuple]] = {name: {} for name in self.tables}  # table -> image -> key
        self.seq = itertools.count()

    def load(self, txn) -> list[tuple]:
        """Store the transaction's row images; its steps as (kind, table, old image, new image)."""
        steps, rows = [], {name: [] for name in self.tables}
        for change in txn.changes:
            if change.table not in self.tables:
                continue
            seqs = []
            for row in (change.old, change.new):
                if row is None:
                    seqs.append(None)
                    continue
                seq = next(self.seq)
                seqs.append(seq)
                self.keys[change.table][seq] = tuple(row[c] for c in self.tables[change.table].primary_key)
                rows[change.table].append([row[c] for c in self.columns[change.table]] + [str(seq)])
            steps.append((change.kind, change.table, *seqs))
        for name, images in rows.items():
            if images:
                with self.conn.cursor().copy(sql.SQL("COPY {} FROM STDIN").format(
                        sql.Identifier(self.scratch[name]))) as copy:
                    for image in images:
                        copy.write_row(image)
        return steps

    def apply(self, steps) -> None:
        for kind, table, old, new in steps:
            if kind == "truncate":
                self.state[table].clear()
            elif new is not None:
                self.state[table][self.keys[table][new]] = new
            else:
                self.state[table].pop(self.keys[table][old], None)

    def matching(self, table: str, where: str, params: list, seqs) -> set[int]:
        seqs = [s for s in seqs if s is not None]
        if not seqs:
            return set()
        query = f"SELECT seq FROM {self.scratch[table]} WHERE seq = ANY(${len(params) + 1}) AND ({where})"
        return {r[0] for r in psycopg.RawCursor(self.conn).execute(query, [*params, seqs])}

    def values(self, table: str, expression: str, seqs) -> dict[int, str]:
        if not seqs:
            return {}
        return dict(self.conn.execute(sql.SQL("SELECT seq, " + expression + " FROM {} WHERE seq = ANY(%s)").format(
            sql.Identifier(self.scratch[table])), (list(seqs),)).fetchall())

    def rows(self, table: str, seqs) -> list[tuple]:
        columns = sql.SQL(", ").join(map(sql.Identifier, self.tables[table].columns))
        return sorted(self.conn.execute(sql.SQL("SELECT {} FROM {} WHERE seq = ANY(%s)").format(
            columns, sql.Identifier(self.scratch[table])), (list(seqs),)).fetchall(), key=repr)

    def close(self) -> None:
        self.conn.close()


class SubqueryShape:
    """One caller's copy of one subquery shape, as an Electric client holds it."""

    def __init__(self, mirror: Mirror, shape: Shape, params: list):
        self.mirror, self.shape, self.params = mirror, shape, params
        self.table = mirror.shapes.table(shape.table).qualified
        self.where = rewrite(shape.where, len(params) + 1)
        self.held: dict[tuple, int] = {}  # key -> the image the client holds
        self.moves = {"in": 0, "out": 0}  # how many values moved, for the test's report

    def views(self) -> list[list[str]]:
        """Each subquery's values now: its SELECT over the inner table's current rows."""
        out = []
        for query in self.shape.subqueries:
            live = self.mirror.state[query.table].values()
            where = query.where or "true"
            seqs = self.mirror.matching(query.table, where, self.params, live)
            out.append(sorted(set(self.mirror.values(query.table, _outer_text(query.selects), seqs).values())))
        return out

    def step(self, steps, before: list[list[str]]) -> None:
        """Phase 1, before the transaction is applied to the mirror: its own changes with the old views."""
        mine = [s for s in steps if s[1] == self.table]
        match = self.mirror.matching(self.table, self.where, [*self.params, *before],
                                     [seq for _, _, old, new in mine for seq in (old, new)])
        for kind, _, old, new in mine:
            if kind == "truncate":
                self.held.clear()
            elif new is not None and new in match:
                self.held[self.mirror.keys[self.table][new]] = new
            elif old is not None and old in match:
                self.held.pop(self.mirror.keys[self.table][old], None)

    def move(self, before: list[list[str]], after: list[list[str]]) -> None:
        """Phase 2, after the mirror holds the transaction: move-outs, then move-ins."""
        outs = [set(b) - set(a) for b, a in zip(before, after)]
        ins = [set(a) - set(b) for b, a in zip(before, after)]
        if any(outs):
            self.moves["out"] += sum(map(len, outs))
            kept = self.mirror.matching(self.table, self.where, [*self.params, *after], self.held.values())
            for k, query in enumerate(self.shape.subqueries):
                tags = self.mirror.values(self.table, _outer_text(query.outer), self.held.values())
                for key, seq in list(self.held.items()):
                    if tags.get(seq) in outs[k] and seq not in kept:
                        del self.held[key]  # tagged with a value that left, and no other disjunct holds it
        if any(ins):
            self.moves["in"] += sum(map(len, ins))
            live = list(self.mirror.state[self.table].values())
            now = self.mirror.matching(self.table, self.where, [*self.params, *after], live)
            was = self.mirror.matching(self.table, self.where, [*self.params, *before], live)
            for seq in now - was:  # Electric's move-in query: `(new views) AND NOT (old views)`
                self.held[self.mirror.keys[self.table][seq]] = seq

    def rows(self) -> list[tuple]:
        return self.mirror.rows(self.table, self.held.values())


def replay(mirror: Mirror, shapes: list[SubqueryShape], transactions) -> None:
    """Feed committed transactions, in commit order, to every caller's shapes."""
    for txn in transactions:
        steps = mirror.load(txn)
        before = [s.views() for s in shapes]
        for shape, views in zip(shapes, before):
            shape.step(steps, views)
        mirror.apply(steps)
        for shape, views in zip(shapes, before):
            shape.move(views, shape.views())
