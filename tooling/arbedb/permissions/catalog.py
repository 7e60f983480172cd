"""The declarations against a live database: every table with row level security is
declared, and every declared table and column exists. Read-only; used by rls-test and verify."""

from __future__ import annotations

from .declarations import Permissions

# Public tables with row level security, and every column of every public table.
RLS_TABLES = """
    SELECT c.relname FROM pg_catalog.pg_class AS c
     WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND c.relrowsecurity
     ORDER BY 1"""
COLUMNS = """
    SELECT c.relname, a.attname FROM pg_catalog.pg_class AS c
      JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
     WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')"""


def problems(conn, perms: Permissions) -> list[str]:
    """One line per problem, each naming what and how to fix it; [] when the declarations fit."""
    out = []
    missing = perms.missing_line(row[0] for row in conn.execute(RLS_TABLES).fetchall())
    if missing:
        out.append(missing)
    columns: dict[str, set[str]] = {}
    for table, column in conn.execute(COLUMNS).fetchall():
        columns.setdefault(table, set()).add(column)
    for name, rules in perms.tables.items():
        if name not in columns:
            out.append(f"{perms.source}: tables.{name} declares public.{name}, which this database does not have; "
                       "remove the declaration, or apply the revision that creates it (`arbedb apply`)")
            continue
        unknown = sorted(rules.named_columns() - columns[name])
        if unknown:
            out.append(f"{perms.source}: tables.{name} names column(s) {', '.join(unknown)} that public.{name} "
                       "does not have; fix the declaration")
    return out
