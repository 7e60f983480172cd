"""Every table in public has row level security enabled.

Why: without RLS, any role granted the table (on Supabase: ``anon`` and
``authenticated`` by default) reads and writes every house's rows; policies on a
table without RLS are silently ignored.

Bad::

    CREATE TABLE public.labels (...);  -- and no ENABLE ROW LEVEL SECURITY anywhere

Good::

    CREATE TABLE public.labels (...);
    ALTER TABLE public.labels ENABLE ROW LEVEL SECURITY;  -- in the same revision
"""

CODE = "ARB002"
TITLE = "rls-enabled"
SCOPE = "schema"


def check(ctx):
    for table in ctx.schema.public_tables():
        if not table.rls:
            yield table.where.finding(
                CODE, f"table {table.name} does not have row level security enabled",
                f"add `ALTER TABLE {table.name} ENABLE ROW LEVEL SECURITY;` in the revision that creates it",
                obj=table.name)
