"""A live catalog read back as DDL, one statement per object, for the lint rules to judge.

``arbedb verify`` runs the same schema rules as ``arbedb lint`` (lint/rules/,
SCOPE = "schema") on a live database: this module turns the catalog into the
statements that would create it (``pg_get_functiondef``, ``pg_get_indexdef``,
``pg_get_constraintdef``, ``pg_get_triggerdef``, and ``format()`` for the rest),
each labelled with its object, and the lint model builder replays them. One
reading of SQL serves both gates.

Runs inside a savepoint with ``search_path = ''`` so every name PostgreSQL
prints is schema-qualified, then rolls the savepoint back.
"""

from __future__ import annotations

import psycopg

from ..lint.sources import Source

SCHEMAS = ("public", "arbe", "arbe_private")

# (object label, statement) rows, in an order the model can replay: types,
# tables, then what hangs off them. Only what the schema rules read is emitted.
_QUERY = """
WITH rel AS (
    SELECT c.oid, c.relname, n.nspname, c.relrowsecurity, c.relreplident, c.relacl, c.relowner,
           format('%I.%I', n.nspname, c.relname) AS qname
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ANY({schemas}) AND c.relkind IN ('r', 'p')
)
SELECT 1, 'type ' || format('%I.%I', n.nspname, t.typname), format('CREATE TYPE %I.%I AS ENUM ()', n.nspname, t.typname)
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = ANY({schemas}) AND t.typtype = 'e'
UNION ALL
SELECT 2, 'table ' || r.qname, format('CREATE TABLE %s (%s)', r.qname, coalesce(string_agg(
    format('%I %s%s%s', a.attname, format_type(a.atttypid, a.atttypmod),
           CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END,
           CASE WHEN a.attgenerated = 's' THEN format(' GENERATED ALWAYS AS (%s) STORED', pg_get_expr(d.adbin, d.adrelid))
                ELSE '' END), ', ' ORDER BY a.attnum), ''))
FROM rel r LEFT JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
GROUP BY r.qname
UNION ALL
SELECT 3, 'table ' || r.qname, format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', r.qname)
FROM rel r WHERE r.relrowsecurity
UNION ALL
SELECT 3, 'table ' || r.qname, format('ALTER TABLE %s REPLICA IDENTITY %s', r.qname,
    CASE r.relreplident WHEN 'f' THEN 'FULL' WHEN 'n' THEN 'NOTHING' WHEN 'd' THEN 'DEFAULT'
    ELSE (SELECT format('USING INDEX %I', ic.relname) FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
          WHERE i.indrelid = r.oid AND i.indisreplident) END)
FROM rel r
UNION ALL
SELECT 4, format('constraint %s on %s', co.conname, r.qname),
       format('ALTER TABLE %s ADD CONSTRAINT %I %s', r.qname, co.conname, pg_get_constraintdef(co.oid))
FROM pg_constraint co JOIN rel r ON r.oid = co.conrelid WHERE co.contype IN ('p', 'u', 'f')
UNION ALL
SELECT 5, format('index %s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN rel r ON r.oid = i.indrelid
WHERE NOT EXISTS (SELECT FROM pg_constraint co WHERE co.conindid = i.indexrelid)
UNION ALL
SELECT 6, format('policy %s on %s', p.polname, r.qname),
       format('CREATE POLICY %I ON %s AS %s FOR %s TO %s%s%s', p.polname, r.qname,
              CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,
              CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                            WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
              (SELECT string_agg(CASE WHEN role_oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(role_oid)) END,
                                 ', ') FROM unnest(p.polroles) AS role_oid),
              ' USING (' || pg_get_expr(p.polqual, p.polrelid) || ')',
              ' WITH CHECK (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')')
FROM pg_policy p JOIN rel r ON r.oid = p.polrelid
UNION ALL
SELECT 7, format('function %s.%s(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
       pg_get_functiondef(p.oid)
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = ANY({schemas}) AND p.prokind IN ('f', 'p')
UNION ALL
-- The model starts every function executable by PUBLIC (PostgreSQL's default) and replays the ACL.
SELECT 8, format('function %s.%s(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
       CASE WHEN a.grantee IS NULL
            THEN format('REVOKE EXECUTE ON FUNCTION %s.%I(%s) FROM PUBLIC', quote_ident(n.nspname), p.proname,
                        pg_get_function_identity_arguments(p.oid))
            ELSE format('GRANT EXECUTE ON FUNCTION %s.%I(%s) TO %I', quote_ident(n.nspname), p.proname,
                        pg_get_function_identity_arguments(p.oid), pg_get_userbyid(a.grantee)) END
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
LEFT JOIN LATERAL (SELECT x.grantee FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) x
                   WHERE x.privilege_type = 'EXECUTE' AND x.grantee <> 0
                   UNION ALL SELECT NULL WHERE NOT EXISTS (
                       SELECT FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) y
                       WHERE y.privilege_type = 'EXECUTE' AND y.grantee = 0)) a ON true
WHERE n.nspname = ANY({schemas}) AND p.prokind IN ('f', 'p')
UNION ALL
SELECT 8, format('trigger %s on %s', t.tgname, r.qname), pg_get_triggerdef(t.oid)
FROM pg_trigger t JOIN rel r ON r.oid = t.tgrelid WHERE NOT t.tgisinternal
UNION ALL
SELECT 9, 'table ' || r.qname,
       format('GRANT %s%s ON %s TO %s', a.privilege_type,
              CASE WHEN att.attname IS NULL THEN '' ELSE format(' (%I)', att.attname) END, r.qname,
              CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END)
FROM rel r
LEFT JOIN pg_attribute att ON att.attrelid = r.oid AND att.attnum > 0 AND NOT att.attisdropped AND att.attacl IS NOT NULL
CROSS JOIN LATERAL aclexplode(CASE WHEN att.attname IS NULL THEN r.relacl ELSE att.attacl END) a
WHERE a.grantee <> r.relowner
UNION ALL
SELECT 9, 'schema ' || n.nspname,
       format('GRANT %s ON SCHEMA %I TO %s', a.privilege_type, n.nspname,
              CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END)
FROM pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) a
WHERE n.nspname = ANY({schemas}) AND a.grantee <> n.nspowner
UNION ALL
SELECT 10, 'publication ' || p.pubname,
       format('CREATE PUBLICATION %I%s WITH (publish = %L)', p.pubname,
              CASE WHEN p.puballtables THEN ' FOR ALL TABLES'
                   ELSE coalesce(' FOR ' || (SELECT string_agg(x, ', ') FROM (
                       SELECT format('TABLE %I.%I', pt.schemaname, pt.tablename) AS x
                       FROM pg_publication_tables pt WHERE pt.pubname = p.pubname
                       UNION ALL
                       SELECT format('TABLES IN SCHEMA %I', ns.nspname)
                       FROM pg_publication_namespace pn JOIN pg_namespace ns ON ns.oid = pn.pnnspid
                       WHERE pn.pnpubid = p.oid) parts), '') END,
              concat_ws(', ', CASE WHEN p.pubinsert THEN 'insert' END, CASE WHEN p.pubupdate THEN 'update' END,
                        CASE WHEN p.pubdelete THEN 'delete' END, CASE WHEN p.pubtruncate THEN 'truncate' END))
FROM pg_publication p
ORDER BY 1, 2, 3
"""


def catalog_sources(conn) -> list[Source]:
    """One ``Source`` (role ``catalog``) per statement that recreates what the rules read."""
    rows = []
    with conn.transaction() as tx:
        with conn.cursor() as cur:
            cur.execute("SELECT set_config('search_path', '', true)")
            # No bind parameters: the query's format() patterns (%I, %s) must reach the server as written.
            cur.execute(_QUERY.replace("{schemas}", "ARRAY[" + ", ".join(f"'{s}'" for s in SCHEMAS) + "]"))
            rows = cur.fetchall()
        raise psycopg.Rollback(tx)  # only the search_path change: nothing here writes
    return [Source(f"{statement};", "catalog", object=label) for _, label, statement in rows]
