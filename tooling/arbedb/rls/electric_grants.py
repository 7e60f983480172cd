"""What no caller's view shows of the `electric` role (electric/20_role.sql, docs/electric.md).

Electric connects as its own role, never as a caller, so no world the property
builds reads or writes as it. Exactly what it may do: LOGIN, REPLICATION and
BYPASSRLS; SELECT on the published tables; nothing else — no write, no other
table, no secret value, no function granted to it, no membership of another
role, no CREATE in the project's schemas, no superuser, CREATEROLE or CREATEDB.
Checked from the catalog (verify's own ELE010-ELE013, the same code `arbedb
verify` runs, plus what they do not look at) and by acting as the role.

Role attributes and memberships are cluster-wide, so mutants that change them
act on a role of their own (``Mutant.electric_role``), set up by the same
electric/20_role.sql; the others change per-database grants of the project's role.
"""

from __future__ import annotations

import dataclasses
import uuid

import psycopg
from psycopg import sql

from ..config import Project
from ..electric.publication import prelude_sql, role_name
from ..electric.shapes import load_shapes
from ..verify.electric import role_findings
from .sealing import Unseen

PROJECT_SCHEMAS = ("public", "arbe", "arbe_private")
REFUSED = "42501"


def check(conn, project: Project) -> None:
    """Raise Unseen on the first thing the role may do beyond its job; nothing stays."""
    role, synced = role_name(project), sorted(load_shapes(project).qualified_names)
    with conn.transaction(force_rollback=True), conn.cursor() as cur:
        found = role_findings(cur, load_shapes(project), role)
        if found:
            raise Unseen(f"role {role}: {found[0].message}")
        _catalog(cur, role)
        _acting(conn, role, synced)


def _catalog(cur, role: str) -> None:
    """What verify does not look at: other attributes, memberships, functions, CREATE."""
    attrs = cur.execute("SELECT rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    if any(attrs):
        raise Unseen(f"role {role} has CREATEROLE or CREATEDB: (createrole, createdb) = {attrs}")
    granted = [r[0] for r in cur.execute(
        "SELECT m.roleid::regrole::text FROM pg_auth_members AS m WHERE m.member = to_regrole(%s)", (role,))]
    if granted:
        raise Unseen(f"role {role} is a member of {granted}: it holds their rights too")
    functions = [r[0] for r in cur.execute(
        "SELECT p.oid::regprocedure::text FROM pg_proc AS p CROSS JOIN LATERAL aclexplode(p.proacl) AS a "
        "WHERE a.grantee = to_regrole(%s) AND p.pronamespace::regnamespace::text = ANY (%s)",
        (role, list(PROJECT_SCHEMAS)))]
    if functions:
        raise Unseen(f"role {role} was granted EXECUTE on {functions}: it may only read the published tables")
    creates = [r[0] for r in cur.execute(
        "SELECT nspname FROM pg_namespace WHERE nspname = ANY (%s) AND has_schema_privilege(%s, oid, 'CREATE')",
        (list(PROJECT_SCHEMAS), role))]
    if creates:
        raise Unseen(f"role {role} may CREATE in schema {creates}")


def _acting(conn, role: str, synced: list[str]) -> None:
    """As the role: every published table reads; no write of one goes through; no other
    table and no secret value reads."""
    others = [r[0] for r in conn.execute(
        "SELECT format('%%I.%%I', n.nspname, c.relname) FROM pg_class AS c JOIN pg_namespace AS n "
        "ON n.oid = c.relnamespace WHERE n.nspname = ANY (%s) AND c.relkind IN ('r', 'p', 'v', 'm')",
        (list(PROJECT_SCHEMAS),)) if r[0] not in synced]
    secret = conn.execute("SELECT id FROM public.secrets LIMIT 1").fetchone()
    # (what, statement, the refusal expected: the privilege check's own message, or None: allowed)
    attempts = [(f"SELECT from {t}", f"SELECT FROM {t} LIMIT 1", None) for t in synced]
    for t in synced:
        denied = f"permission denied for table {t.split('.')[-1]}"
        attempts += [(f"INSERT into {t}", f"INSERT INTO {t} DEFAULT VALUES", denied),
                     (f"UPDATE {t}", f"UPDATE {t} SET id = id WHERE false", denied),
                     (f"DELETE from {t}", f"DELETE FROM {t} WHERE false", denied),
                     (f"TRUNCATE {t}", f"TRUNCATE {t}", denied)]
    attempts += [(f"SELECT from {t}", f"SELECT FROM {t} LIMIT 1", "permission denied for") for t in others]
    attempts.append(("read_secret", f"SELECT arbe.read_secret('{secret[0] if secret else uuid.uuid4()}')",
                     "permission denied for"))
    for what, statement, refusal in attempts:
        try:
            with conn.transaction(force_rollback=True):
                conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
                conn.execute(statement)
        except psycopg.Error as exc:
            # Only the privilege check's own refusal: a trigger's error would mean the write got in.
            first = str(exc).strip().splitlines()[0]
            if refusal and exc.sqlstate == REFUSED and first.startswith(refusal):
                continue
            if refusal:
                raise Unseen(f"as {role}, {what} got past the privilege check (then failed: {exc.sqlstate} "
                             f"{first})") from None
            raise Unseen(f"as {role}, {what} was refused: Electric's snapshots would fail ({first})") from None
        else:
            if refusal:
                raise Unseen(f"as {role}, {what} was allowed: the role may only SELECT the published tables")


def mutants(project: Project):
    """The role widened or narrowed: per-database grants on the project's role, and
    cluster-wide attributes and memberships on a role of the mutant's own."""
    from .mutants import Mutant

    role, synced = role_name(project), sorted(load_shapes(project).qualified_names)
    src = "electric/20_role.sql"
    out = [Mutant(f"electric: SELECT on {t} revoked", f"REVOKE SELECT ON {t} FROM {role};", src) for t in synced]
    out += [
        Mutant(f"electric: INSERT on {synced[0]}", f"GRANT INSERT ON {synced[0]} TO {role};", src),
        Mutant("electric: UPDATE of one column of public.threads", f"GRANT UPDATE (title) ON public.threads TO {role};",
               src),
        Mutant("electric: reads the sealed secret values",
               f"GRANT USAGE ON SCHEMA arbe_private TO {role}; GRANT SELECT ON arbe_private.secret_values TO {role};",
               src),
        Mutant("electric: EXECUTE on read_secret", f"GRANT EXECUTE ON FUNCTION arbe.read_secret(uuid) TO {role};", src),
        Mutant("electric: CREATE on schema public", f"GRANT CREATE ON SCHEMA public TO {role};", src),
    ]
    text = (project.root / src).read_text()
    for what, change in (("REPLICATION taken away", "ALTER ROLE {r} NOREPLICATION"),
                         ("BYPASSRLS taken away", "ALTER ROLE {r} NOBYPASSRLS"),
                         ("a superuser", "ALTER ROLE {r} SUPERUSER"),
                         ("CREATEROLE", "ALTER ROLE {r} CREATEROLE"),
                         ("a member of service_role", "GRANT service_role TO {r}")):
        # A fresh name per run: roles are shared by every database of the cluster.
        own = f"arbedb_mutant_electric_{uuid.uuid4().hex[:10]}"
        mine = dataclasses.replace(project, extra={**project.extra, "electric_role": own})
        out.append(Mutant(f"electric: {what}", f"{prelude_sql(mine)}{text};\n{change.format(r=own)};", src,
                          electric_role=own))
    return out
