"""A shape's WHERE template read by PostgreSQL's own parser (pglast): the columns it
reads, the $n it binds, and its subqueries.

A subquery is held to what Electric accepts (1.6+, its parser and shape.ex):
`value IN (SELECT column FROM one_table WHERE ...)` (or `NOT IN`, or a row of
columns against as many selected columns), one table, no join, no DISTINCT,
GROUP BY, ORDER BY, LIMIT or WITH. Electric makes the inner SELECT a shape of its
own (the same params bound), so the inner table is synced too. One level only:
arbedb's proofs replay one level of move-in and move-out.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ArbedbError


@dataclass(frozen=True)
class Subquery:
    outer: tuple[str, ...]  # the outer columns compared with the subquery's rows, e.g. ("house_id",)
    table: str  # the inner table, qualified: "public.members"
    selects: tuple[str, ...]  # the inner SELECT's columns, e.g. ("house_id",)
    where: str  # the inner WHERE as pglast prints it ("" when none)
    columns: tuple[str, ...]  # the columns the inner WHERE reads
    conjuncts: tuple[str, ...]  # the inner WHERE's top-level AND terms, printed
    equalities: tuple[str, ...]  # inner columns tested `column = $n` at the top level

    @property
    def sql(self) -> str:
        """The subquery alone, as Electric runs it for the inner shape."""
        cols = ", ".join(self.selects)
        return f"SELECT {cols} FROM {self.table}" + (f" WHERE {self.where}" if self.where else "")


@dataclass(frozen=True)
class ParsedWhere:
    columns: tuple[str, ...]  # columns of the shape's own table the WHERE reads (subqueries excluded)
    params: frozenset[int]  # the $n used, subqueries included
    subqueries: tuple[Subquery, ...]
    conjuncts: tuple[str, ...]  # the top-level AND terms, printed: what an index predicate may rely on
    text: str  # the whole WHERE as pglast prints it: one line, one spelling


def printed(node) -> str:
    """One canonical text per expression, whatever its spelling (parentheses, case, spacing)."""
    from pglast.stream import RawStream

    return RawStream()(node)


def conjuncts(node) -> list:
    if node is None:
        return []
    if type(node).__name__ == "BoolExpr" and node.boolop.name == "AND_EXPR":
        return [t for arg in node.args for t in conjuncts(arg)]
    return [node]


def parse_where(text: str, where: str, subqueries: bool = False) -> ParsedWhere:
    """``where`` names the declaration in errors (``electric/shapes.toml: tables.t.shapes.s``);
    ``subqueries``: whether the shape declared itself a subquery shape."""
    from pglast import parse_sql
    from pglast.parser import ParseError

    try:
        statements = parse_sql(f"SELECT WHERE {text}")
    except ParseError as exc:
        raise ArbedbError(f"{where}: the WHERE does not parse ({exc}); fix it") from None
    stmt = statements[0].stmt if len(statements) == 1 else None
    if stmt is None or stmt.whereClause is None or stmt.op.name != "SETOP_NONE" or stmt.fromClause:
        raise ArbedbError(f"{where}: the WHERE must be one boolean expression; fix it")
    reads = _Reads(where, allowed=subqueries)
    reads.walk(stmt.whereClause)
    return ParsedWhere(tuple(reads.columns), frozenset(reads.params), tuple(reads.subqueries),
                       tuple(printed(t) for t in conjuncts(stmt.whereClause)), printed(stmt.whereClause))


class _Reads:
    """Walks an expression: its columns and $n, each subquery read apart."""

    def __init__(self, where: str, inner: bool = False, allowed: bool = True):
        self.where, self.inner, self.allowed = where, inner, allowed
        self.columns: list[str] = []
        self.params: set[int] = set()
        self.subqueries: list[Subquery] = []

    def walk(self, node) -> None:
        from pglast import ast

        if isinstance(node, tuple):
            for item in node:
                self.walk(item)
            return
        if not isinstance(node, ast.Node):
            return
        kind = type(node).__name__
        if kind == "ColumnRef":
            name = getattr(node.fields[-1], "sval", None)
            if len(node.fields) != 1 or name is None:
                raise ArbedbError(f"{self.where}: write columns unqualified (house_id, not t.house_id)")
            if name not in self.columns:
                self.columns.append(name)
            return
        if kind == "ParamRef":
            self.params.add(node.number)
            return
        if kind == "SubLink":
            self._subquery(node)
            return
        for name in node:  # every child slot of the node
            self.walk(getattr(node, name))

    def _subquery(self, node) -> None:
        fix = "write `column IN (SELECT column FROM table WHERE ...)`"
        if not self.allowed:
            raise ArbedbError(f"{self.where}: a shape WHERE cannot hold a subquery unless the shape declares "
                              "subquery = true (Electric 1.6+); add it, or filter on the table's own columns")
        if self.inner:
            raise ArbedbError(f"{self.where}: a subquery inside a subquery; arbedb proves one level, flatten it")
        if node.subLinkType.name != "ANY_SUBLINK" or node.operName:
            raise ArbedbError(f"{self.where}: Electric accepts only `IN (SELECT ...)` subqueries; {fix}")
        outer = _columns_of(node.testexpr)
        select = node.subselect
        if outer is None:
            raise ArbedbError(f"{self.where}: the left side of IN (SELECT ...) must be columns; {fix}")
        if (select.op.name != "SETOP_NONE" or select.distinctClause or select.groupClause or select.havingClause
                or select.windowClause or select.sortClause or select.limitCount or select.limitOffset
                or select.withClause or select.lockingClause):
            raise ArbedbError(f"{self.where}: Electric's subquery is a plain SELECT (no UNION, DISTINCT, GROUP BY, "
                              f"ORDER BY, LIMIT or WITH); {fix}")
        if not select.fromClause or len(select.fromClause) != 1 or type(select.fromClause[0]).__name__ != "RangeVar":
            raise ArbedbError(f"{self.where}: the subquery must read one table, no join; {fix}")
        relation = select.fromClause[0]
        if relation.alias is not None:
            raise ArbedbError(f"{self.where}: the subquery's table takes no alias; {fix}")
        selects = [_columns_of(t.val) for t in select.targetList or ()]
        if any(s is None or len(s) != 1 for s in selects) or len(selects) != len(outer):
            raise ArbedbError(f"{self.where}: the subquery must select plain columns, as many as the left side of "
                              f"IN; {fix}")
        inner = _Reads(self.where, inner=True)
        inner.walk(select.whereClause)
        self.params |= inner.params
        terms = conjuncts(select.whereClause)
        equalities = tuple(t.lexpr.fields[-1].sval for t in terms
                           if type(t).__name__ == "A_Expr" and t.kind.name == "AEXPR_OP"
                           and [n.sval for n in t.name] == ["="] and type(t.lexpr).__name__ == "ColumnRef"
                           and type(t.rexpr).__name__ == "ParamRef")
        self.subqueries.append(Subquery(
            outer, f"{relation.schemaname or 'public'}.{relation.relname}", tuple(s[0] for s in selects),
            printed(select.whereClause) if select.whereClause is not None else "", tuple(inner.columns),
            tuple(printed(t) for t in terms), equalities))
        for column in outer:
            if column not in self.columns:
                self.columns.append(column)


def _columns_of(node) -> tuple[str, ...] | None:
    """(column,) for a plain column, the columns of a ROW(...) of plain columns, else None."""
    kind = type(node).__name__
    if kind == "ColumnRef" and len(node.fields) == 1 and hasattr(node.fields[0], "sval"):
        return (node.fields[0].sval,)
    if kind == "RowExpr":
        parts = [_columns_of(a) for a in node.args]
        if all(p is not None and len(p) == 1 for p in parts):
            return tuple(p[0] for p in parts)
    return None
