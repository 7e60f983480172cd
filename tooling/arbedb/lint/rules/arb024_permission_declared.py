"""Every public table with row level security is declared in the permission declarations.

What: each table in public with RLS enabled must have a ``[tables.<name>]`` in the
project's permission declarations (``policies/permissions.toml``, or the file
``permissions`` in ``[tool.arbedb]`` names): its parents, who reads and writes, what
API keys may do, its immutable columns. An invalid declarations file is reported too.

Why: ``arbedb rls-test`` tests each table against its declaration. A table without
one would never be tested: a policy left at ``USING (true)`` would pass. rls-test
and verify refuse such a table; lint says so before anything is applied.

Bad::

    CREATE TABLE public.labels (...);
    ALTER TABLE public.labels ENABLE ROW LEVEL SECURITY;  -- and no [tables.labels]

Good::

    # policies/permissions.toml
    [tables.labels]
    parents = [{ column = "agent_id", table = "agents", required = true }]
    read = "member"
    write = "admin"
    columns = ["agent_id", "created_by"]
"""

from ...errors import ArbedbError

CODE = "ARB024"
TITLE = "permission-declared"
SCOPE = "schema"


def check(ctx):
    from ...permissions import load_permissions

    if ctx.project is None:
        return  # a lone file: no project, no declarations to hold it to
    rls = [t for t in ctx.schema.public_tables() if t.rls]
    try:
        perms = load_permissions(ctx.project)
    except ArbedbError as exc:
        if rls:
            yield rls[0].where.finding(CODE, str(exc).split("; ")[0], str(exc).split("; ", 1)[-1], obj=rls[0].name)
        return
    for table in rls:
        if table.short not in perms:
            yield table.where.finding(
                CODE, f"table {table.name} has row level security but no declaration in {perms.source}",
                f"add [tables.{table.short}] to {perms.source} (read, write, columns, ...; docs/model.md, "
                "\"Per-table declarations\"), or run `arbedb new-table`, which writes it", obj=table.name)
