"""Drift: the live catalog against the one the repository creates.

The repository is applied (`arbedb apply`, every revision and the declarative
layer) to a scratch database — a database created on ``--scratch-dsn``'s server,
else on a throwaway embedded server of the live database's major version — after
the live database's default privileges have been replayed there, so Supabase's
grants to its API roles are expected on both sides. Only the default privileges
that can reach what the project creates are replayed (global ones, and those of
the schemas the catalog snapshot reads); a platform schema's (Supabase's auth,
extensions, storage, ...) are the platform's, reported apart, and the scratch
database does not even have those schemas. Both catalogs are read with
``catalog.snapshot`` and compared object by object; each difference is one
finding: the object, what the repository says, what the database says.

Not compared: the ``auth`` schema (the repository creates it only where it is
missing, and on Supabase it is Supabase's); publications other than the
project's (Supabase has ``supabase_realtime``); the privileges on schema
``public`` (the platform's); the Electric role's privileges (verify/electric.py
checks those, and on Supabase the role may rightly be absent); owners, and raw
ACL text (the ``grants`` rows compare privileges grantee by grantee instead).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from ..engine import catalog
from ..errors import ArbedbError
from ..findings import Finding

OPTIONS = ("scratch_dsn",)

# kind -> (drift code, how many leading fields name the object, fields not compared)
KINDS = {
    "schemas": ("DRF001", 1, {"owner", "acl"}),
    "relations": ("DRF002", 1, {"acl"}),
    "columns": ("DRF003", 2, {"position"}),
    "constraints": ("DRF004", 2, set()),
    "indexes": ("DRF005", 2, set()),
    "functions": ("DRF006", 1, {"acl", "owner"}),
    "policies": ("DRF007", 2, set()),
    "triggers": ("DRF008", 2, set()),
    "publications": ("DRF009", 1, set()),
    "grants": ("DRF010", 3, set()),
}
NOUN = {"schemas": "schema", "relations": "relation", "columns": "column", "constraints": "constraint",
        "indexes": "index", "functions": "function", "policies": "policy", "triggers": "trigger",
        "publications": "publication", "grants": "grant"}
IGNORED_SCHEMAS = ("auth",)
FIX = ("make the database match the repository (`arbedb apply --redeclare` restores policies, functions, triggers, "
       "grants and the publication; tables and columns need a revision), or change the repository if the database "
       "is right")


def checks(conn, project, scratch_dsn: str | None = None) -> list[Finding]:
    live = normalise(catalog.snapshot(conn, detail=True), project)
    major = conn.info.server_version // 10000
    defaults, elsewhere = default_privileges(conn)
    repo, notes = repo_snapshot(project, scratch_dsn, defaults=defaults, major=major)
    return notes + _not_replayed(elsewhere) + compare(repo, live)


# -- the repository's catalog ----------------------------------------------------------------

def default_privileges(conn) -> tuple[tuple[list[str], set[str]], list[str]]:
    """((ALTER DEFAULT PRIVILEGES statements recreating the live defaults that can reach the project's
    schemas, roles they name), the other schemas that have default privileges)."""
    kinds = {"r": "TABLES", "S": "SEQUENCES", "f": "FUNCTIONS", "T": "TYPES", "n": "SCHEMAS"}
    rows = conn.execute("""
        SELECT pg_get_userbyid(d.defaclrole), n.nspname, d.defaclobjtype::text,
               coalesce(array_agg(ARRAY[a.privilege_type, CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                        ELSE pg_get_userbyid(a.grantee) END]) FILTER (WHERE a.grantee <> d.defaclrole), '{}')
        FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
        CROSS JOIN LATERAL aclexplode(d.defaclacl) a
        GROUP BY 1, 2, 3 ORDER BY 2 NULLS FIRST, 1, 3""").fetchall()
    ours = set(catalog.SCHEMAS) - set(IGNORED_SCHEMAS)
    elsewhere = sorted({schema for _, schema, _, _ in rows if schema is not None and schema not in ours})
    statements, roles = [], set()
    for role, schema, kind, grants in rows:
        if schema in elsewhere:
            continue
        roles.add(role)
        prefix = f"ALTER DEFAULT PRIVILEGES FOR ROLE {_ident(role)}"
        if schema is None:  # a global entry replaces the built-in default outright
            statements.append(f"{prefix} REVOKE ALL ON {kinds[kind]} FROM PUBLIC")
        else:
            prefix += f" IN SCHEMA {_ident(schema)}"
        for privilege, grantee in grants:
            roles.add(grantee)
            statements.append(f"{prefix} GRANT {privilege} ON {kinds[kind]} TO "
                              + ("PUBLIC" if grantee == "PUBLIC" else _ident(grantee)))
    return (statements, roles - {"PUBLIC"}), elsewhere


def _not_replayed(schemas: list[str]) -> list[Finding]:
    """Default privileges of schemas the project creates nothing in: the platform's are reported apart;
    another schema's are a warning (the project's own objects cannot be affected, but say so)."""
    from .. import platform

    theirs = [s for s in schemas if s in platform.SCHEMAS]
    other = [s for s in schemas if s not in platform.SCHEMAS]
    out = []
    if theirs:
        out.append(Finding("DRF000", f"default privileges in the platform's schemas ({', '.join(theirs)}) "
                           "are the platform's: not replayed, not compared", "nothing to do",
                           object=f"default privileges in {', '.join(theirs)}", severity=platform.SEVERITY))
    if other:
        out.append(Finding("DRF000", f"default privileges in schemas the repository does not create "
                           f"({', '.join(other)}) are not compared", "nothing to do if that schema is not the "
                           "project's", object=f"default privileges in {', '.join(other)}", severity="warning"))
    return out


def _ident(name: str) -> str:
    return sql.Identifier(name).as_string(None)


ROLE_ATTRIBUTES = {"anon": "NOLOGIN NOINHERIT", "authenticated": "NOLOGIN NOINHERIT",
                   "service_role": "NOLOGIN NOINHERIT BYPASSRLS"}


def repo_snapshot(project, scratch_dsn: str | None, *, defaults=((), ()), major: int | None = None):
    """(snapshot of a fresh database with the repository applied, notes about how it was made).

    ``defaults`` is ``default_privileges()`` of the live database, replayed first.
    """
    from ..commands import apply

    statements, roles = defaults
    with _scratch_server(scratch_dsn, major) as (server_dsn, notes):
        with _scratch_database(server_dsn) as dsn:
            with psycopg.connect(dsn, autocommit=True) as conn:
                for role in sorted(roles):  # cluster-wide: create only what is missing, as NOLOGIN
                    if conn.execute("SELECT FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None:
                        try:
                            # Supabase's API roles as the auth compatibility step makes them: a
                            # service_role without BYPASSRLS would break RLS for whoever shares the server.
                            attributes = ROLE_ATTRIBUTES.get(role, "NOLOGIN")
                            conn.execute(sql.SQL("CREATE ROLE {} " + attributes).format(sql.Identifier(role)))
                        except psycopg.errors.DuplicateObject:
                            pass  # another scratch apply made it just now
                for statement in statements:
                    conn.execute(statement)
            apply(project, dsn)
            with psycopg.connect(dsn) as conn:
                return normalise(catalog.snapshot(conn, detail=True), project), notes


@contextmanager
def _scratch_server(scratch_dsn: str | None, major: int | None):
    """Yield (a server DSN arbedb may create databases on, notes)."""
    if scratch_dsn:
        yield scratch_dsn, []
        return
    from ..server import LocalServer, find_binaries

    binaries, notes = find_binaries(), []
    if major is not None and binaries.major != major:
        try:
            binaries = find_binaries(str(major))
        except ArbedbError:
            notes.append(Finding(
                "DRF000", f"the scratch server is PostgreSQL {binaries.major} but the database is {major}: "
                "function and index definitions may print differently", "pass --scratch-dsn with a server of "
                f"PostgreSQL {major}", object="drift", severity="warning"))
    home = tempfile.mkdtemp(prefix="arbedb-scratch-")
    server = LocalServer(home, ephemeral=True, binaries=binaries)
    try:
        yield server.start(), notes
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


@contextmanager
def _scratch_database(server_dsn: str):
    name = f"arbedb_scratch_{os.getpid()}_{os.urandom(3).hex()}"
    try:
        admin = psycopg.connect(server_dsn, autocommit=True)
    except psycopg.OperationalError as exc:
        raise ArbedbError(f"cannot reach the scratch server ({str(exc).strip().splitlines()[0]}); "
                          "check --scratch-dsn") from None
    with admin:
        try:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.Error as exc:
            raise ArbedbError(f"cannot create a scratch database on {server_dsn} ({exc.diag.message_primary}); "
                              "use a role with CREATEDB, or omit --scratch-dsn for a throwaway local server") from None
        try:
            yield make_conninfo(server_dsn, dbname=name)
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# -- comparison ---------------------------------------------------------------------------------

def normalise(snap: dict, project) -> dict:
    """The rows drift compares: see the module docstring for what is left out."""
    from ..electric.publication import role_name

    def kept(kind: str, row) -> bool:
        if _schema_of(kind, row) in IGNORED_SCHEMAS:
            return False
        if kind == "publications":
            return row[0] == project.publication
        if kind == "grants":
            return row[0] != "schema public" and row[1] != role_name(project)
        return True

    out = {}
    for kind, rows in snap.items():
        if kind in KINDS:
            out[kind] = [list(r) for r in rows if kept(kind, r)]
    for row in out.get("publications", []):  # the table list's order is not the catalog's business
        row[-1] = ",".join(sorted(filter(None, row[-1].split(","))))
    return out


def _schema_of(kind: str, row) -> str:
    name = str(row[0]).split(" ", 1)[-1] if kind == "grants" else str(row[0])
    return name.split(".", 1)[0]


def compare(repo: dict, live: dict) -> list[Finding]:
    findings = []
    for kind, (code, key_len, skipped) in KINDS.items():
        fields = catalog.COLUMNS[kind]
        theirs = {tuple(r[:key_len]): r for r in live.get(kind, [])}
        ours = {tuple(r[:key_len]): r for r in repo.get(kind, [])}
        for key in sorted(set(ours) | set(theirs), key=repr):
            name = f"{NOUN[kind]} {' '.join(map(str, key))}"
            if key not in theirs:
                findings.append(_line(code, name, _show(ours[key], fields, key_len, skipped), "missing"))
            elif key not in ours:
                findings.append(_line(code, name, "nothing (not created by the repository)",
                                      _show(theirs[key], fields, key_len, skipped)))
            else:
                for i, field in enumerate(fields[key_len:], key_len):
                    if field not in skipped and ours[key][i] != theirs[key][i]:
                        findings.append(_line(code, f"{name} {field}", repr(ours[key][i]), repr(theirs[key][i])))
    return findings


def _show(row, fields, key_len: int, skipped: set) -> str:
    shown = [f"{f}={row[i]!r}" for i, f in enumerate(fields) if i >= key_len and f not in skipped]
    return "exists" + (f" ({', '.join(shown)})" if shown else "")


def _line(code: str, obj: str, repo_says: str, db_says: str) -> Finding:
    return Finding(code, f"{obj}: repo says {repo_says}, database says {db_says}", FIX, object=obj)
