"""Electric checks for `arbedb verify`: can Electric sync this database in manual publishing mode?

Read-only. Compares the live database with electric/shapes.toml: the
publication, replica identity, the electric role, and whether every shape
column exists, is replicated, and (in a WHERE) is neither generated nor an enum.
"""

from __future__ import annotations

import re

from ..electric.publication import role_name
from ..findings import Finding
from ..electric.shapes import Shapes, SyncedTable, load_shapes

OPERATIONS = ("insert", "update", "delete", "truncate")
# The schemas this project owns: where the electric role must hold nothing beyond
# SELECT on the synced tables. (Other schemas, e.g. Supabase's extensions, grant
# things to PUBLIC that are not ours to judge.)
PROJECT_SCHEMAS = ("public", "arbe", "arbe_private")
ON_SUPABASE = "on Supabase connect Electric as the postgres role over the direct (not pooled) connection"

# Column names that suggest credential material (docs/model.md §3: it lives in arbe_private).
# References and timestamps about a credential (token_id, key_rotated_at) are fine.
_CREDENTIAL_WORDS = {
    "token", "tokens", "hash", "hashed", "digest", "secret", "secrets", "password", "passwd", "pwd", "salt",
    "credential", "credentials", "ciphertext", "plaintext", "pem", "otp", "totp",
}
_CREDENTIAL_KEY = re.compile(r"(^|_)(private|secret|signing|encryption|api|access|refresh|session|raw)_key($|_)"
                             r"|(^|_)key_(material|hash|bytes|value)($|_)")


def looks_like_credential(column: str) -> bool:
    name = column.lower()
    if name.endswith(("_id", "_at", "_by", "_count")):
        return False
    return bool(_CREDENTIAL_WORDS & set(name.split("_"))) or bool(_CREDENTIAL_KEY.search(name))


def checks(conn, project) -> list[Finding]:
    shapes = load_shapes(project)
    role = role_name(project)
    with conn.cursor() as cur:
        findings = _wal_level(cur)
        findings += _publication(cur, shapes)
        findings += _replica_identity(cur, shapes)
        findings += role_findings(cur, shapes, role)
        findings += _shape_columns(cur, shapes)
        findings += _credentials(cur, shapes)
    return findings


def _wal_level(cur) -> list[Finding]:
    cur.execute("SELECT current_setting('wal_level')")
    level = cur.fetchone()[0]
    if level == "logical":
        return []
    return [Finding("ELE001", f"wal_level is {level}: Electric needs logical replication",
                    "set wal_level = logical in postgresql.conf (or ALTER SYSTEM) and restart the server",
                    object="wal_level")]


def _publication(cur, shapes: Shapes) -> list[Finding]:
    pub = shapes.publication
    cur.execute("""
        SELECT p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate,
               EXISTS (SELECT FROM pg_publication_namespace n WHERE n.pnpubid = p.oid)
        FROM pg_publication p WHERE p.pubname = %s""", (pub,))
    row = cur.fetchone()
    obj = f"publication {pub}"
    if row is None:
        return [Finding("ELE002", f"publication {pub} does not exist", "run `arbedb apply`", object=obj)]
    all_tables, *ops, has_schemas = row
    findings = []
    if all_tables or has_schemas:
        what = "FOR ALL TABLES" if all_tables else "FOR TABLES IN SCHEMA"
        findings.append(Finding(
            "ELE003", f"publication {pub} is {what}: it publishes tables that are not synced, credentials included",
            f"DROP PUBLICATION {pub}, then `arbedb apply --redeclare`", object=obj))
    missing = [op for op, on in zip(OPERATIONS, ops) if not on]
    if missing:
        findings.append(Finding(
            "ELE004", f"publication {pub} does not publish {', '.join(missing)}: Electric needs all four operations",
            "`arbedb apply --redeclare` (sets publish = 'insert, update, delete, truncate')", object=obj))
    if all_tables or has_schemas:
        return findings  # the per-table comparison below would only repeat it
    cur.execute("""
        SELECT format('%%s.%%s', n.nspname, c.relname), pr.prqual IS NOT NULL, pr.prattrs IS NOT NULL
        FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid
        JOIN pg_class c ON c.oid = pr.prrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE p.pubname = %s""", (pub,))
    published = {name: (qual, cols) for name, qual, cols in cur.fetchall()}
    declared = shapes.qualified_names
    cur.execute("SELECT t FROM unnest(%s::text[]) t WHERE to_regclass(t) IS NOT NULL", (sorted(declared),))
    existing = {r[0] for r in cur.fetchall()}  # a missing table is ELE020's finding, not this one's
    for name in sorted(existing - set(published)):
        findings.append(Finding(
            "ELE005", f"synced table {name} (declared in electric/shapes.toml) is not in publication {pub}",
            "`arbedb apply --redeclare` publishes every table shapes.toml declares", object=name))
    for name in sorted(set(published) - declared):
        findings.append(Finding(
            "ELE006", f"table {name} is in publication {pub} but not declared in electric/shapes.toml",
            "declare it in electric/shapes.toml, or `arbedb apply --redeclare` to take it out of the publication",
            object=name))
    for name, (qual, cols) in sorted(published.items()):
        if qual or cols:
            what = " and ".join(w for w, on in (("a row filter", qual), ("a column list", cols)) if on)
            findings.append(Finding(
                "ELE007", f"table {name} is published with {what}: Electric must see whole rows",
                "`arbedb apply --redeclare` (re-adds it whole)", object=name))
    return findings


def _replica_identity(cur, shapes: Shapes) -> list[Finding]:
    cur.execute("""
        SELECT format('%%s.%%s', n.nspname, c.relname), c.relreplident
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE format('%%s.%%s', n.nspname, c.relname) = ANY(%s) AND c.relreplident <> 'f'""",
                (sorted(shapes.qualified_names),))
    return [Finding("ELE008", f"table {name} has REPLICA IDENTITY {_IDENTITY.get(ident, ident)}, not FULL: "
                    "an UPDATE that soft-deletes a row would not carry the old row",
                    f"ALTER TABLE {name} REPLICA IDENTITY FULL (or `arbedb apply --redeclare`)", object=name)
            for name, ident in cur.fetchall()]


_IDENTITY = {"d": "DEFAULT", "n": "NOTHING", "i": "USING INDEX"}


def role_findings(cur, shapes: Shapes, role: str) -> list[Finding]:
    """The role's attributes and grants (ELE010-ELE013); rls-test --mutate runs the same (rls/electric_grants.py)."""
    obj = f"role {role}"
    cur.execute("SELECT rolcanlogin, rolreplication, rolbypassrls, rolsuper FROM pg_roles WHERE rolname = %s",
                (role,))
    row = cur.fetchone()
    if row is None:
        cur.execute("""SELECT rolsuper OR (current_setting('server_version_num')::int >= 160000
                                 AND rolcreaterole AND rolreplication AND rolbypassrls)
                       FROM pg_roles WHERE rolname = current_user""")
        could_create = cur.fetchone()[0]
        return [Finding("ELE010", f"role {role} does not exist",
                        "`arbedb apply` as a superuser creates it" if could_create else
                        f"apply once as a superuser to create it, or {ON_SUPABASE}",
                        object=obj, severity="error" if could_create else "warning")]
    login, replication, bypassrls, superuser = row
    findings = []
    lacking = [a for a, on in (("LOGIN", login), ("REPLICATION", replication), ("BYPASSRLS", bypassrls)) if not on]
    if lacking:
        findings.append(Finding("ELE011", f"role {role} lacks {', '.join(lacking)}",
                                f"ALTER ROLE {role} {' '.join(lacking)} (as a superuser)", object=obj))
    if superuser:
        findings.append(Finding("ELE013", f"role {role} is a superuser: it can read credentials",
                                f"ALTER ROLE {role} NOSUPERUSER", object=obj))
        return findings
    cur.execute("""
        SELECT format('%%s.%%s', n.nspname, c.relname),
               has_table_privilege(%(role)s, c.oid, 'SELECT'),
               has_table_privilege(%(role)s, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
                 OR has_any_column_privilege(%(role)s, c.oid, 'INSERT, UPDATE, REFERENCES'),
               has_any_column_privilege(%(role)s, c.oid, 'SELECT')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY(%(schemas)s) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
        ORDER BY 1""", {"role": role, "schemas": list(PROJECT_SCHEMAS)})
    synced = shapes.qualified_names
    for name, select, writes, reads_any in cur.fetchall():
        if name in synced and not select:
            findings.append(Finding("ELE012", f"role {role} cannot SELECT synced table {name}: snapshots would fail",
                                    f"GRANT SELECT ON {name} TO {role} (or `arbedb apply --redeclare`)", object=name))
        if writes or (name not in synced and reads_any):
            what = "can write" if writes else "can read"
            findings.append(Finding("ELE013", f"role {role} {what} {name}: it may only SELECT the synced tables",
                                    f"REVOKE ALL ON {name} FROM {role}, then GRANT SELECT only where synced",
                                    object=name))
    cur.execute("SELECT has_schema_privilege(%s, 'arbe_private', 'USAGE, CREATE') "
                "FROM pg_namespace WHERE nspname = 'arbe_private'", (role,))
    row = cur.fetchone()
    if row and row[0]:
        findings.append(Finding("ELE013", f"role {role} has privileges on schema arbe_private (credential material)",
                                f"REVOKE ALL ON SCHEMA arbe_private FROM {role}", object="schema arbe_private"))
    return findings


def _shape_columns(cur, shapes: Shapes) -> list[Finding]:
    cur.execute("SELECT current_setting('server_version_num')::int, "
                "coalesce((SELECT to_jsonb(p) ->> 'pubgencols' FROM pg_publication p WHERE pubname = %s), 'n')",
                (shapes.publication,))
    version, pubgencols = cur.fetchone()
    # What subquery shapes read of other synced tables: Electric evaluates those columns on the stream too.
    subquery_reads: dict[str, list[str]] = {}
    for shape in shapes.all_shapes():
        for query in shape.subqueries:
            subquery_reads.setdefault(query.table, []).extend((*query.selects, *query.columns))
    findings = []
    for table in shapes.tables:
        cur.execute("""
            SELECT a.attname, a.attgenerated::text, t.typtype = 'e', format_type(a.atttypid, NULL),
                   (SELECT array_agg(k.attname::text ORDER BY array_position(i.indkey::int2[], k.attnum))
                    FROM pg_index i JOIN pg_attribute k ON k.attrelid = i.indrelid AND k.attnum = ANY(i.indkey)
                    WHERE i.indrelid = c.oid AND i.indisprimary)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            JOIN pg_type t ON t.oid = a.atttypid
            WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')""", (table.schema, table.name))
        rows = cur.fetchall()
        if not rows:
            findings.append(Finding("ELE020", f"synced table {table.qualified} (electric/shapes.toml) does not exist",
                                    "create it in a revision, or remove it from electric/shapes.toml",
                                    object=table.qualified))
            continue
        findings += _table_columns(table, rows, version, pubgencols, subquery_reads.get(table.qualified, ()))
    return findings


def _table_columns(table: SyncedTable, rows, version: int, pubgencols: str, read_by_subqueries=()) -> list[Finding]:
    live = {name: (generated, is_enum, type_name) for name, generated, is_enum, type_name, _pk in rows}
    primary_key = tuple(rows[0][4] or ())
    in_where = {c for shape in table.shapes for c in shape.where_columns} | set(read_by_subqueries)
    findings = []
    if primary_key != table.primary_key:
        findings.append(Finding(
            "ELE025", f"{table.qualified}: declared primary key ({', '.join(table.primary_key)}) is not the table's "
            f"({', '.join(primary_key) or 'none'})", "fix primary_key in electric/shapes.toml", object=table.qualified))
    for column in dict.fromkeys((*table.columns, *read_by_subqueries)):
        obj = f"{table.qualified}.{column}"
        if column not in live and column not in table.columns:
            continue  # a subquery naming a column its table lacks: ARB025 says so
        if column not in live:
            findings.append(Finding("ELE021", f"shape column {obj} does not exist",
                                    "remove it from electric/shapes.toml or add it in a revision", object=obj))
            continue
        generated, is_enum, type_name = live[column]
        # Stored generated columns are replicated only from PostgreSQL 18, and only
        # when the publication says publish_generated_columns = stored; virtual never.
        replicated = not generated or (version >= 180000 and generated == "s" and pubgencols == "s")
        if not replicated:
            why = ("PostgreSQL < 18 does not replicate generated columns" if version < 180000 else
                   "the publication does not publish generated columns" if generated == "s" else
                   "virtual generated columns are never replicated")
            code, where = ("ELE023", "used by a shape WHERE") if column in in_where else ("ELE022", "a shape column")
            findings.append(Finding(code, f"{obj} is generated and {where}: {why}",
                                    "use a plain column kept by a trigger instead", object=obj))
        if is_enum and column in in_where:
            findings.append(Finding("ELE024", f"{obj} is an enum ({type_name}) used by a shape WHERE: "
                                    "Electric rejects enum comparisons", "make it text with a CHECK constraint",
                                    object=obj))
    return findings


def _credentials(cur, shapes: Shapes) -> list[Finding]:
    cur.execute("""
        SELECT format('%%s.%%s', pt.schemaname, pt.tablename), a.attname
        FROM pg_publication_tables pt
        -- Joined by name, not by a ::regclass cast: the planner may evaluate the
        -- cast over every pg_class row, and a non-superuser (Supabase's postgres)
        -- may not look up pg_toast names.
        JOIN pg_namespace n ON n.nspname = pt.schemaname
        JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename
        JOIN pg_attribute a ON a.attrelid = c.oid
        WHERE pt.pubname = %s AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY 1, a.attnum""", (shapes.publication,))
    return [Finding("ELE030", f"published table {table} has credential-looking column {column}: "
                    "everything published reaches Electric", "move it to a table in arbe_private",
                    object=f"{table}.{column}")
            for table, column in cur.fetchall() if looks_like_credential(column)]
