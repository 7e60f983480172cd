"""plpgsql_check over every PL/pgSQL function of the project's schemas.

The extension is used where the server has it: already created, it runs inside
verify's read-only transaction; only available (``pg_available_extensions``), it
is created in a second transaction that is rolled back, so verify leaves the
database as it found it. Trigger functions are checked against each relation
they fire on (plpgsql_check needs the relation to type ``NEW``/``OLD``); one that
fires on none is not checked. Event-trigger functions are left out.

Levels: ``error`` is an error; ``warning`` and ``warning extra`` are warnings;
``performance`` is a warning of its own code (``plpgsql_check:performance``), so
it reads apart from correctness. An error that only says a platform schema
(Supabase's ``vault``, ``extensions``, ...) is missing on this server is the
platform's, reported apart: the project's functions reach those schemas only
where they exist (see docs/lint.md).
"""

from __future__ import annotations

import re

import psycopg

from .. import platform
from ..findings import Finding
from . import NotRun, dsn_of
from .catalog_sql import SCHEMAS

EXTENSION = "plpgsql_check"
INSTALL = ("install the extension on the database server (Debian/Ubuntu: apt-get install postgresql-<major>-plpgsql-check; "
           "Supabase has it) and run verify again")

_FUNCTIONS = """
SELECT p.oid::regprocedure::text, COALESCE(t.tgrelid, 0), COALESCE(t.tgrelid::regclass::text, ''), c.*
FROM pg_catalog.pg_proc AS p
JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
JOIN pg_catalog.pg_language AS l ON l.oid = p.prolang
LEFT JOIN (SELECT DISTINCT tgfoid, tgrelid, tgoldtable, tgnewtable FROM pg_catalog.pg_trigger
           WHERE NOT tgisinternal) AS t
    ON t.tgfoid = p.oid
CROSS JOIN LATERAL {schema}.plpgsql_check_function_tb(
    p.oid, COALESCE(t.tgrelid, 0), performance_warnings => true,
    oldtable => t.tgoldtable, newtable => t.tgnewtable) AS c
WHERE l.lanname = 'plpgsql' AND n.nspname = ANY(%s)
  AND p.prorettype <> 'pg_catalog.event_trigger'::pg_catalog.regtype
  AND (p.prorettype <> 'pg_catalog.trigger'::pg_catalog.regtype OR t.tgrelid IS NOT NULL)
ORDER BY 1, 3, c.lineno
"""
_WHERE = "SELECT n.nspname FROM pg_catalog.pg_extension AS e JOIN pg_catalog.pg_namespace AS n ON n.oid = e.extnamespace " \
         "WHERE e.extname = %s"
# "relation "vault.secrets" does not exist", "schema "extensions" does not exist"
_MISSING = re.compile(r'^(?:relation|schema|function|type) "([^".]+)[".]')
_UNDEFINED = ("42P01", "3F000", "42883", "42704")


def checks(conn, project) -> list[Finding]:
    if conn.execute(_WHERE, (EXTENSION,)).fetchone():
        rows = _check(conn)
    elif conn.execute("SELECT 1 FROM pg_catalog.pg_available_extensions WHERE name = %s", (EXTENSION,)).fetchone():
        rows = _check_with_a_passing_extension(dsn_of(conn))
    else:
        raise NotRun(f"the {EXTENSION} extension is not available on this server; {INSTALL}")
    schemas = {r[0] for r in conn.execute("SELECT nspname FROM pg_catalog.pg_namespace")}
    relations: dict[tuple, list[str]] = {}  # a trigger function's finding, once, naming its relations
    for row in rows:
        relations.setdefault((row[0], *row[3:]), []).append(row[2])
    return [_finding(key, rels, schemas) for key, rels in relations.items()]


def _check(conn) -> list[tuple]:
    (schema,) = conn.execute(_WHERE, (EXTENSION,)).fetchone()
    query = _FUNCTIONS.replace("{schema}", psycopg.sql.Identifier(schema).as_string(conn))
    return conn.execute(query, (list(SCHEMAS),)).fetchall()


def _check_with_a_passing_extension(dsn: str) -> list[tuple]:
    """CREATE EXTENSION, check, roll back: the database keeps no trace of it."""
    with psycopg.connect(dsn) as conn:
        try:
            try:
                conn.execute(f"CREATE EXTENSION {EXTENSION}")
            except psycopg.errors.InsufficientPrivilege:
                conn.rollback()
                raise NotRun(f"{EXTENSION} is available but this role may not CREATE EXTENSION it (verify creates it in "
                             "a transaction it rolls back); run verify as a role that may, or CREATE EXTENSION it "
                             "once") from None
            return _check(conn)
        finally:
            conn.rollback()


def _finding(key, relations: list[str], schemas: set[str]) -> Finding:
    function, _, lineno, statement, sqlstate, message, detail, hint, level = key[:9]
    where = f"{function} on {', '.join(relations)}" if any(relations) else function
    text = f"line {lineno} ({statement}): {message}" + (f" ({detail})" if detail else "")
    missing = _MISSING.match(message or "")
    if (sqlstate in _UNDEFINED and missing and missing.group(1) in platform.SCHEMAS
            and missing.group(1) not in schemas):
        return Finding(code=f"{EXTENSION}:platform", object=where, severity=platform.SEVERITY,
                       message=f"{text}: the platform's schema {missing.group(1)} is not on this server",
                       fix="nothing here; it is checked on a server that has that schema (Supabase)")
    performance = level == "performance"
    return Finding(
        code=f"{EXTENSION}:{'performance' if performance else 'error' if level == 'error' else 'warning'}",
        object=where, severity="error" if level == "error" else "warning", message=text,
        fix=hint or ("write the statement so no hidden cast or re-plan is needed" if performance
                     else "correct the statement; `SELECT * FROM plpgsql_check_function('<function>')` shows it"))
