"""A comparable snapshot of what a database defines, read from pg_catalog.

Used to prove "nothing changed" (failed apply, re-apply, round trip), to
fingerprint the catalog at apply time (``arbedb status`` reports drift since),
and by ``verify`` to diff a live database against the repository.
Object names and definitions only: no OIDs, so two databases built by the same
SQL give equal snapshots.
"""

from __future__ import annotations

import json

# ACLs are compared as sorted entries: their stored order depends on the order
# the grants happened in, which re-applying the declarative layer changes.
# The schemas this project owns or shapes. `arbedb` (bookkeeping) is left out:
# its rows change on every apply by design.
SCHEMAS = ("public", "arbe", "arbe_private", "auth")

_QUERIES: dict[str, str] = {
    "schemas": """
        SELECT n.nspname, pg_get_userbyid(n.nspowner), array_to_string(ARRAY(SELECT unnest(n.nspacl::text[]) ORDER BY 1), ',')
        FROM pg_namespace n WHERE n.nspname = ANY(%(schemas)s)""",
    "relations": """
        SELECT n.nspname || '.' || c.relname, c.relkind::text, c.relrowsecurity, c.relforcerowsecurity,
               c.relreplident::text, array_to_string(ARRAY(SELECT unnest(c.relacl::text[]) ORDER BY 1), ',')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY(%(schemas)s) AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')""",
    "columns": """
        SELECT n.nspname || '.' || c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
               a.attnotnull, coalesce(pg_get_expr(d.adbin, d.adrelid), ''), a.attgenerated::text,
               a.attidentity::text, a.attnum
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE n.nspname = ANY(%(schemas)s) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
          AND a.attnum > 0 AND NOT a.attisdropped""",
    "constraints": """
        SELECT n.nspname || '.' || c.relname, co.conname, pg_get_constraintdef(co.oid)
        FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY(%(schemas)s)""",
    "indexes": """
        SELECT schemaname || '.' || tablename, indexname, indexdef
        FROM pg_indexes WHERE schemaname = ANY(%(schemas)s)""",
    "functions": """
        SELECT n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
               pg_get_functiondef(p.oid), array_to_string(ARRAY(SELECT unnest(p.proacl::text[]) ORDER BY 1), ','), pg_get_userbyid(p.proowner)
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = ANY(%(schemas)s) AND p.prokind IN ('f', 'p')""",
    "policies": """
        SELECT schemaname || '.' || tablename, policyname, permissive, roles::text, cmd,
               coalesce(qual, ''), coalesce(with_check, '')
        FROM pg_policies WHERE schemaname = ANY(%(schemas)s)""",
    "triggers": """
        SELECT n.nspname || '.' || c.relname, t.tgname, pg_get_triggerdef(t.oid), t.tgenabled::text
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY(%(schemas)s) AND NOT t.tgisinternal""",
    "publications": """
        SELECT p.pubname, p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate,
               coalesce((SELECT string_agg(pt.schemaname || '.' || pt.tablename, ',' ORDER BY pt.schemaname, pt.tablename)
                         FROM pg_publication_tables pt WHERE pt.pubname = p.pubname), '')
        FROM pg_publication p""",
}


# What each kind's row holds, in query order (verify's drift report names the field that differs).
COLUMNS: dict[str, tuple[str, ...]] = {
    "schemas": ("schema", "owner", "acl"),
    "relations": ("relation", "relkind", "row security", "forced row security", "replica identity", "acl"),
    "columns": ("table", "column", "type", "not null", "default", "generated", "identity", "position"),
    "constraints": ("table", "constraint", "definition"),
    "indexes": ("table", "index", "definition"),
    "functions": ("function", "definition", "acl", "owner"),
    "policies": ("table", "policy", "permissive", "roles", "command", "using", "with check"),
    "triggers": ("table", "trigger", "definition", "enabled"),
    "publications": ("publication", "all tables", "insert", "update", "delete", "truncate", "tables"),
    "grants": ("object", "grantee", "privilege"),
}

# Not in the default snapshot (so not in the apply fingerprint): privileges one
# grantee and privilege per row, owners' own left out. ``snapshot(detail=True)``.
_DETAIL_QUERIES: dict[str, str] = {
    "grants": """
        SELECT 'table ' || n.nspname || '.' || c.relname, coalesce(r.rolname, 'PUBLIC'), a.privilege_type
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        CROSS JOIN LATERAL aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
        WHERE n.nspname = ANY(%(schemas)s) AND a.grantee <> c.relowner
        UNION ALL
        SELECT 'column ' || n.nspname || '.' || c.relname || '.' || att.attname, coalesce(r.rolname, 'PUBLIC'),
               a.privilege_type
        FROM pg_attribute att JOIN pg_class c ON c.oid = att.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        CROSS JOIN LATERAL aclexplode(att.attacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
        WHERE n.nspname = ANY(%(schemas)s) AND a.grantee <> c.relowner AND NOT att.attisdropped
        UNION ALL
        SELECT 'function ' || n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
               coalesce(r.rolname, 'PUBLIC'), a.privilege_type
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        CROSS JOIN LATERAL aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
        LEFT JOIN pg_roles r ON r.oid = a.grantee
        WHERE n.nspname = ANY(%(schemas)s) AND a.grantee <> p.proowner
        UNION ALL
        SELECT 'schema ' || n.nspname, coalesce(r.rolname, 'PUBLIC'), a.privilege_type
        FROM pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
        WHERE n.nspname = ANY(%(schemas)s) AND a.grantee <> n.nspowner""",
}


def snapshot(conn, *, detail: bool = False) -> dict[str, list[list]]:
    """``{kind: sorted rows}`` for ``conn`` (a psycopg connection); ``detail`` adds the grants."""
    out: dict[str, list[list]] = {}
    queries = {**_QUERIES, **(_DETAIL_QUERIES if detail else {})}
    with conn.cursor() as cur:
        for kind, query in queries.items():
            cur.execute(query, {"schemas": list(SCHEMAS)})
            out[kind] = sorted([list(map(_plain, row)) for row in cur.fetchall()], key=repr)
    return out


def _plain(value):
    return value if isinstance(value, (str, int, bool)) or value is None else str(value)


def fingerprint_sql() -> str:
    """A query computing the fingerprint of the default snapshot in the database itself, so the
    same number comes out of ``arbedb apply`` and of an exported script run by another tool
    (``supabase db push``, ``psql -1``): the sha256 of every snapshot row as text, sorted."""
    schemas = "ARRAY[" + ", ".join(f"'{s}'" for s in SCHEMAS) + "]::text[]"
    rows = "\n    UNION ALL ".join(
        f"SELECT '{kind}' AS kind, q::text AS row FROM ({query.replace('%(schemas)s', schemas)}) q"
        for kind, query in _QUERIES.items())
    return ("SELECT encode(sha256(convert_to(coalesce(string_agg(kind || ' ' || row, E'\\n' "
            f'ORDER BY kind COLLATE "C", row COLLATE "C"), \'\'), \'UTF8\')), \'hex\') FROM (\n    {rows}\n) snapshot')


def fingerprint(conn) -> str:
    """The catalog fingerprint of ``conn``'s database (see ``fingerprint_sql``)."""
    with conn.cursor() as cur:
        cur.execute(fingerprint_sql())
        return cur.fetchone()[0]


def diff(before: dict, after: dict) -> list[str]:
    """Human-readable lines: what one snapshot has that the other does not."""
    lines: list[str] = []
    for kind in sorted(set(before) | set(after)):
        a = {json.dumps(r) for r in before.get(kind, [])}
        b = {json.dumps(r) for r in after.get(kind, [])}
        lines += [f"{kind}: only before: {r}" for r in sorted(a - b)]
        lines += [f"{kind}: only after:  {r}" for r in sorted(b - a)]
    return lines
