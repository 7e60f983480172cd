"""An index serves each subquery shape: its subquery's filter, and the outer column it feeds.

What: for every shape of electric/shapes.toml that declares ``subquery = true``, e.g. threads
``house_id IN (SELECT house_id FROM members WHERE user_id = $1 AND deleted_at IS NULL AND
house_deleted_at IS NULL) AND deleted_at IS NULL``:

- the inner table has a btree index led by a column the subquery tests ``= $n``, whose
  predicate (if any) is made of terms the subquery's WHERE holds;
- the outer table has one led by the compared column (``house_id``), partial on terms the
  shape's WHERE holds at its top level (``deleted_at IS NULL``);
- every column the subquery names is a column of its table.

Why: Electric runs the subquery as a shape of its own (one snapshot per caller) and, on every
move-in, queries the outer table with ``house_id = ANY($values)``: without the two indexes
each is a scan of every tenant's rows. A name the inner table lacks is taken by PostgreSQL
from the outer row (a correlated subquery, a different query) and refused by Electric.

Bad::

    CREATE TABLE public.members (id uuid PRIMARY KEY, house_id uuid NOT NULL, user_id uuid NOT NULL,
                                 deleted_at timestamptz);  -- no index on user_id

Good::

    CREATE INDEX members_user_live_idx ON public.members (user_id) INCLUDE (house_id) WHERE deleted_at IS NULL;
    CREATE INDEX threads_house_live_idx ON public.threads (house_id) WHERE deleted_at IS NULL;
"""

from ...electric.where import conjuncts, printed

CODE = "ARB025"
TITLE = "subquery-index"
SCOPE = "schema"


def _serves(index, column: str, terms: tuple[str, ...]) -> bool:
    return (bool(index.columns) and index.columns[0] == column
            and all(printed(t) in terms for t in conjuncts(index.predicate)))


def check(ctx):
    for label, outer_name, outer_terms, query in ctx.subqueries:
        inner, outer = ctx.schema.tables.get(query.table), ctx.schema.tables.get(outer_name)
        if inner is None or outer is None:
            continue  # a declared table that does not exist is ARB007's / verify's ELE020
        indexes = [i for i in ctx.schema.indexes.values() if i.table == inner.name]
        missing = [c for c in (*query.selects, *query.columns) if c not in inner.columns]
        for column in dict.fromkeys(missing):
            yield inner.where.finding(
                CODE, f"the subquery of shape {label} names {column}, not a column of {inner.name}: PostgreSQL "
                f"would read it from the outer row, Electric refuses it", f"name a column of {inner.name}",
                obj=f"{label}:{column}")
        if not query.equalities:
            yield inner.where.finding(
                CODE, f"the subquery of shape {label} (`{query.where}`) tests no column against a $n: each "
                f"caller's subquery snapshot reads the whole of {inner.name}", "filter it on `column = $n`",
                obj=label)
        elif not any(_serves(i, c, query.conjuncts) for i in indexes for c in query.equalities):
            column = query.equalities[0]
            nulls = [t for t in query.conjuncts if t.endswith(" IS NULL")]
            yield inner.where.finding(
                CODE, f"no index on {inner.name} serves the subquery of shape {label} (`{query.where}`)",
                f"add `CREATE INDEX {inner.short}_{column}_live_idx ON {inner.name} ({column}) INCLUDE "
                f"({', '.join(query.selects)})" + (f" WHERE {' AND '.join(nulls)}" if nulls else "") + ";`",
                obj=label)
        column = query.outer[0]
        if not any(_serves(i, column, outer_terms) for i in ctx.schema.indexes.values() if i.table == outer.name):
            nulls = [t for t in outer_terms if t.endswith(" IS NULL")]
            yield outer.where.finding(
                CODE, f"no index on {outer.name} serves `{column} = ANY(...)`, the move-in query of shape {label}",
                f"add `CREATE INDEX {outer.short}_{column}_live_idx ON {outer.name} ({column})"
                + (f" WHERE {' AND '.join(nulls)}" if nulls else "") + ";`", obj=f"{label}:{column}")
