"""The publication holds exactly the synced tables, whole, for every operation.

What: the synced tables are the ``[tables.*]`` of electric/shapes.toml. Where
the repository states the publication in plain SQL, every synced table must be
in it; nothing else may be (no FOR ALL TABLES, no TABLES IN SCHEMA, no other
table); no row filter or column list; ``publish`` covers insert, update, delete
and truncate. A publication managed by a DO block is not visible to lint: then
only statements that do name it are checked, and ``arbedb verify`` checks the
live one.

Why: a table outside the publication never reaches browsers; one that should
not be there (arbe_private) streams credential material to Electric; a row filter
or column list makes Electric drop rows or columns the proxy promised.

Bad::

    ALTER PUBLICATION electric_publication_default ADD TABLE arbe_private.invite_tokens;

Good::

    LOCK TABLE public.labels IN SHARE MODE;
    ALTER PUBLICATION electric_publication_default ADD TABLE public.labels;
"""

CODE = "ARB007"
TITLE = "publication-tables"
SCOPE = "schema"

OPERATIONS = ("insert", "update", "delete", "truncate")
DEFAULT_PUBLICATION = "electric_publication_default"


def check(ctx):
    name = getattr(ctx.project, "publication", DEFAULT_PUBLICATION)
    pub = ctx.schema.publications.get(name)
    if pub is None:
        return
    fix_scope = "publish only the synced tables of electric/shapes.toml, each named"
    if pub.all_tables or pub.schemas:
        what = "FOR ALL TABLES" if pub.all_tables else f"TABLES IN SCHEMA {', '.join(sorted(pub.schemas))}"
        yield pub.where.finding(CODE, f"publication {name} is {what}", fix_scope, obj=name)
    missing_ops = [op for op in OPERATIONS if op not in pub.publish]
    if missing_ops:
        yield pub.where.finding(
            CODE, f"publication {name} does not publish {', '.join(missing_ops)}",
            "publish = 'insert, update, delete, truncate' (the default: drop the WITH option)", obj=name)
    for table, published in sorted(pub.tables.items()):
        if table not in ctx.synced:
            yield published.where.finding(
                CODE, f"publication {name} holds {table}, which is not a synced table",
                "drop it from the publication, or declare it in electric/shapes.toml", obj=name)
        elif published.columns or published.row_filter is not None:
            yield published.where.finding(
                CODE, f"publication {name} publishes {table} with a "
                + ("column list" if published.columns else "row filter"),
                "publish the whole table; the proxy's shape WHERE does the scoping", obj=name)
    for table in sorted(ctx.synced - set(pub.tables)):
        if not pub.all_tables:
            yield pub.where.finding(
                CODE, f"synced table {table} is not in publication {name}",
                f"add `LOCK TABLE {table} IN SHARE MODE; ALTER PUBLICATION {name} ADD TABLE {table};`", obj=name)
