"""Policy mutation testing: would the RLS property notice if the security SQL broke?

Mutants are derived from the project's own policies/ and triggers/ with pglast
(the PostgreSQL parser): every policy gets its USING / WITH CHECK replaced by
true, is dropped, and is widened from TO authenticated to PUBLIC; every guard
trigger is dropped; every column-limited grant is widened to the whole table;
every declared table (policies/permissions.toml) but the special ones gets its triggers
disabled, and its UPDATE policy, where it asks for admin, widened to members;
every table whose RLS the policies enable (arbe_private's) gets it disabled.
Function bodies get the curated mutations in FUNCTION_MUTATIONS (a condition
removed, a rank loosened, a check short-circuited), each of which must match
the current source exactly once, so the list cannot silently go stale.

Beside them, what is not a caller's view (views.py): the sealing's curated
mutations (sealing.MUTATIONS: a nonce reused across seals and re-seals, a
keystream that ignores it, a tag no longer bound to the row, the ciphertext or
the nonce, an unseal that skips the tag), the `electric` role widened or
narrowed (electric_grants.py: grants per database; attributes and memberships
on a role of the mutant's own, since roles are cluster-wide), and the lock
mutants (lock_mutants.LOCK_MUTATIONS: a lock that only reads or locks the row
instead of writing it, a lock removed, a lock taken after the check, for
lock_house, lock_agent, assert_keeps_an_owner, the creation slot and the
thread-id registry).

Each mutant is a few SQL statements applied on top of a freshly migrated
scratch database; the sealing and electric checks run on it, the races too for
a lock mutant (in a clone of their own: they commit their worlds), then the
property, and a mutant that passes them all has *survived*: a hole the tests
would not see. The unmutated schema faces all of them first, every race at all
nine pairs of isolation levels.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import pglast
from pglast.enums import AlterTableType

from ..config import Project
from ..engine.declarative import declarative_files
from ..errors import ArbedbError, first_line
from ..permissions import Permissions

# Triggers whose job is bookkeeping, not access control: dropping one changes
# no permission, so no permission test can (or should) notice. And the insert
# stamps of the tables callers never INSERT into themselves: their rows come
# from SECURITY DEFINER functions, which run as the owner (the stamp does not
# apply to it) and never take a timestamp from the caller, so dropping one of
# these changes nothing a caller can do. (The stamps of the tables callers do
# insert into are mutated: the property sends client timestamps and checks.)
# (The creation limits, triggers/45_limits.sql, are mutated: the property fills a
# world up to each limit cheaply, rls/paths.py; their serialising slot row is a
# lock mutant, lock_mutants.LOCK_MUTATIONS, that the races kill.)
# The thread id registry (triggers/27_thread_ids.sql) guards ids across a hard
# delete by service_role, which no world makes; tests/test_ids_and_key_ownership.py
# drops it red; reading it before writing it is a lock mutant the races kill.
# The event dates (stamp_dated: deleted_at, revoked_at) say when, not who: the
# property soft-deletes and revokes with now() itself, so tests/test_timestamps.py
# is what drops them red.
NOT_SECURITY_TRIGGERS = ("_touch_updated_at", "members_stamp_inserted", "invites_stamp_inserted",
                         "api_keys_stamp_inserted", "threads_register_id", "_stamp_dated")
# arbe.lock_house and arbe.lock_agent, the writes of the house and agent rows that
# serialise their soft delete with new memberships, new keys and owner changes
# (triggers/25, triggers/26), have no mutant the property could see: what they
# guard only shows with two transactions open at once, and the property runs in
# one. Their mutants are lock_mutants.LOCK_MUTATIONS (a row lock instead of the
# write, a plain read, the lock after the check), which --mutate runs against the
# two-connection races of race_scenarios.py, the same the tests run.

# function -> [(what the mutation does, text in its source, replacement)]
FUNCTION_MUTATIONS = {
    "caller_claims": [
        ("role claim not checked", "\n       OR (claims ->> 'role') IS DISTINCT FROM 'authenticated'", ""),
        ("a sub beside a key is honoured", "(claims -> 'sub') IS NOT NULL AND (claims -> 'arbe_api_key_id') IS NOT NULL", "false"),
        ("a JSON-null sub beside a key is ignored", "((claims -> 'sub') IS NOT NULL AND", "((claims ->> 'sub') IS NOT NULL AND"),
        ("a non-uuid sub beside a key is ignored", "((claims -> 'sub') IS NOT NULL AND",
         "((claims -> 'sub') IS NOT NULL AND coalesce((claims ->> 'sub') ~* uuid_shape, true) AND"),
        ("a malformed key id is cast (an error, not nobody)", "AND (claims ->> 'arbe_api_key_id') ~* uuid_shape",
         "AND (claims ->> 'arbe_api_key_id') IS NOT NULL"),
    ],
    # What user SQL (and policies to come) read; the property asks them as every caller.
    "caller_agent_id": [("a dead key's agent", "RETURN (arbe.caller_key()).agent_id;",
                         "RETURN (SELECT k.agent_id FROM public.api_keys AS k WHERE k.id = (arbe.caller_claims()).api_key_id);")],
    "caller_key_house_id": [("a dead key's house", "RETURN (arbe.caller_key()).house_id;",
                             "RETURN (SELECT k.house_id FROM public.api_keys AS k "
                             "WHERE k.id = (arbe.caller_claims()).api_key_id);")],
    # A caller's write of the copy (members grants UPDATE on every column) must be overwritten.
    "mirror_house_liveness": [("a caller's write of the copy is kept",
                               "    ELSE\n        NEW.house_deleted_at := (SELECT h.deleted_at",
                               "    ELSIF NEW.house_deleted_at IS NOT DISTINCT FROM OLD.house_deleted_at THEN\n"
                               "        NEW.house_deleted_at := (SELECT h.deleted_at")],
    "live_api_key": [
        ("revoked keys act", "\n      AND k.revoked_at IS NULL", ""),
        ("expired keys act", "\n      AND (k.expires_at IS NULL OR k.expires_at > pg_catalog.statement_timestamp())", ""),
        ("deleted keys act", "\n      AND k.deleted_at IS NULL", ""),
        ("keys of deleted houses act", "\n      AND k.house_deleted_at IS NULL", ""),
        ("keys of deleted agents act", "\n      AND k.agent_deleted_at IS NULL", ""),
    ],
    "limit_key_columns": [("keys change any column", "IF changed IS NOT NULL THEN", "IF false THEN"),
                          ("a key's write that also sends updated_at is refused", " AND n.key <> 'updated_at'", "")],
    # Time: the run is one transaction, so the property tells a changed row by its
    # updated_at leaving the load's stamp (worlds.LOADED) for now().
    # (Whether a write changed anything is touch_updated_at's trigger WHEN: TRIGGER_MUTATIONS.)
    "stamp_inserted": [("keys' INSERTs keep client timestamps", "IF row_security_active(TG_RELID) THEN",
                        "IF row_security_active(TG_RELID) AND (arbe.caller_claims()).api_key_id IS NULL THEN")],
    # (No "admin ranks as owner": owner-only rules compare the role by name, not rank.)
    "role_rank": [("member ranks as admin", "WHEN 'member' THEN 1", "WHEN 'member' THEN 2")],
    "caller_house_ids": [
        ("soft-deleted memberships count", "\n      AND m.deleted_at IS NULL", ""),
        ("soft-deleted houses count", "\n      AND m.house_deleted_at IS NULL", ""),
        ("any role satisfies any rank", "arbe.role_rank(m.role) >= arbe.role_rank(min_role)", "true"),
    ],
    "house_role": [("soft-deleted memberships count", "\n      AND m.deleted_at IS NULL", ""),
                   ("soft-deleted houses count", "\n      AND m.house_deleted_at IS NULL", "")],
    "cascade_house_liveness": [("a restored house stays dead to its members",
                                "WHERE m.house_id = NEW.id", "WHERE m.house_id = NEW.id AND NEW.deleted_at IS NOT NULL"),
                               ("removed members see the house's later life", " AND m.deleted_at IS NULL", "")],
    # The copies on api_keys (triggers/26): the cascade's write is what makes the
    # key trigger re-read them, so narrowing it or the re-read leaves keys stale.
    "cascade_key_liveness": [
        ("a restored house stays dead to its keys", "WHERE k.house_id = NEW.id AND k.deleted_at IS NULL",
         "WHERE k.house_id = NEW.id AND NEW.deleted_at IS NOT NULL AND k.deleted_at IS NULL"),
        ("revoked keys' copies go stale", "WHERE k.house_id = NEW.id AND k.deleted_at IS NULL",
         "WHERE k.house_id = NEW.id AND k.deleted_at IS NULL AND k.revoked_at IS NULL"),
        ("a restored agent stays dead to its keys", "WHERE k.house_id = NEW.house_id AND k.agent_id = NEW.id",
         "WHERE NEW.deleted_at IS NOT NULL AND k.house_id = NEW.house_id AND k.agent_id = NEW.id"),
    ],
    "mirror_key_liveness": [("a key's rewrite forgets its agent's delete",
                             "NEW.agent_deleted_at := (SELECT a.deleted_at", "NEW.agent_deleted_at := (SELECT NULL")],
    # The standing both invites (acceptable_invite) and the house's creation count ask of a creator.
    "holds_admin_standing": [("removed admins keep their standing", "\n          AND m.deleted_at IS NULL", ""),
                             ("demoted admins keep their standing", "m.role IN ('owner', 'admin')", "true"),
                             ("an inviter's standing in another house counts",
                              "WHERE m.house_id = holds_admin_standing.house_id AND m.user_id", "WHERE m.user_id")],
    "created_house_has_members": [("a creator who left still sees the house", "SELECT EXISTS", "SELECT NOT EXISTS")],
    "keep_immutable": [("set-once columns change freely", " AND jsonb_typeof(old_row -> col) = 'null'", "")],
    "freeze_deleted": [("deleted rows stay writable", "IF OLD.deleted_at IS NOT NULL AND", "IF false AND")],
    "guard_members": [
        ("members change roles", "IF arbe.role_rank(my_role) < arbe.role_rank('admin') THEN", "IF false THEN"),
        ("admins grant owner", "AND my_role IS DISTINCT FROM 'owner' THEN", "AND false THEN"),
        ("admins remove owners", "AND OLD.role <> 'owner'", ""),
    ],
    "assert_keeps_an_owner": [("the last owner may go", "IF NOT EXISTS", "IF false AND NOT EXISTS"),
                              # service_role in a soft-deleted house (rls/paths.py)
                              ("a soft-deleted house keeps its last owner too",
                               "IF house.id IS NULL OR house.deleted_at IS NOT NULL THEN", "IF house.id IS NULL THEN")],
    "retire_ownerless_house": [("a house outlives its last owner's hard delete", "IF house.id IS NOT NULL",
                                "IF false AND house.id IS NOT NULL"),
                               ("a soft-deleted house is deleted again", "house.id IS NOT NULL AND house.deleted_at IS NULL",
                                "house.id IS NOT NULL")],
    # A world at its limits (rls/paths.py).
    "limit_creation": [("one creation past the limit", "IF mine >= per_creator THEN", "IF mine > per_creator THEN"),
                       ("the house's count takes creators without standing",
                        "FILTER (WHERE arbe.holds_admin_standing($1, c))", "FILTER (WHERE true)"),
                       ("no limit per house", "IF housewide >= per_house THEN", "IF false THEN")],
    "guard_houses": [("admins delete houses", "IF arbe.house_role(OLD.id) IS DISTINCT FROM 'owner' THEN", "IF false THEN")],
    # (On a database with a C locale lower() folds only ASCII anyway; NFKC folds
    # the Kelvin sign to K everywhere, as a Unicode-aware lower() does on Supabase.)
    "email_key": [("emails folded beyond ASCII", 'pg_catalog.btrim(email) COLLATE pg_catalog."C"',
                   "pg_catalog.normalize(pg_catalog.btrim(email), 'NFKC')"),
                  ("surrounding spaces kept", "pg_catalog.btrim(email) COLLATE", "email COLLATE")],
    "create_invite": [
        ("emails stored as typed", "arbe.email_key(create_invite.email)", "create_invite.email"),
        ("members invite", "< arbe.role_rank('admin') THEN\n        RAISE EXCEPTION 'only an admin or owner of the house can invite'",
         "< arbe.role_rank('member') THEN\n        RAISE EXCEPTION 'only an admin or owner of the house can invite'"),
        # (No "invites grant owner": the invites.role CHECK refuses it a second time.)
    ],
    "acceptable_invite": [
        ("any email accepts", "\n      AND arbe.email_key(i.email) = arbe.caller_email()", ""),
        ("expired invites accepted", "\n      AND i.expires_at > now()", ""),
        ("used invites accepted", "\n      AND i.accepted_at IS NULL", ""),
        ("revoked invites accepted", "\n      AND i.deleted_at IS NULL\n", "\n"),
        ("invites to deleted houses accepted", "\n      AND h.deleted_at IS NULL", ""),
        ("invites of removed admins accepted", "OR arbe.holds_admin_standing(i.house_id, i.invited_by))",
         "OR true)"),
    ],
    # A statement that errors is a disagreement (naming it), never "is the database at head?".
    "lookup_invite": [("the look-up reads a column that is not there", "SELECT i.house_id, h.name, i.role, i.expires_at",
                       "SELECT i.house_id, h.name, i.role, i.expired_at")],
    # accept_invite's own look-up, after the lock, no longer asks acceptable_invite:
    # a soft-deleted (revoked) invite is accepted even though lookup_invite hides it.
    "accept_invite": [("a member who left cannot come back",
                       "m.user_id = arbe.caller_id() AND m.deleted_at IS NULL;", "m.user_id = arbe.caller_id();"),
                      ("revoked invites accepted by accept_invite alone",
                       "    invite := arbe.acceptable_invite(token);\n    IF invite.id IS NULL",
                       "    SELECT i.* INTO invite FROM arbe_private.invite_tokens AS t\n"
                       "    JOIN public.invites AS i ON i.id = t.invite_id\n"
                       "    WHERE t.token_hash = arbe.token_hash(token) AND i.accepted_at IS NULL AND i.expires_at > now()\n"
                       "      AND arbe.email_key(i.email) = arbe.caller_email();\n    IF invite.id IS NULL")],
    "create_api_key": [("members create keys", "< arbe.role_rank('admin') THEN\n        RAISE EXCEPTION 'only an admin or owner of the house can create",
                        "< arbe.role_rank('member') THEN\n        RAISE EXCEPTION 'only an admin or owner of the house can create")],
    "resolve_api_key": [("dead keys resolve", "\n      AND EXISTS (SELECT FROM arbe.live_api_key(k.id))", "")],
    "set_secret": [("members set secrets", "< arbe.role_rank('admin') THEN\n        RAISE EXCEPTION 'only an admin or owner of the secret",
                    "< arbe.role_rank('member') THEN\n        RAISE EXCEPTION 'only an admin or owner of the secret")],
    "read_secret": [("deleted secrets readable", "s.deleted_at IS NULL AND ", "")],
    # Sealing and unsealing both still round-trip, so only the at-rest check can see it.
    "secret_keystream": [("secret values stored in clear", "arbe_private.prf(\n            enc_key, nonce || pg_catalog.int4send(i), via)",
                          "pg_catalog.decode(pg_catalog.repeat('00', 32), 'hex')")],
}
# The Data API wrappers (policies/70_data_api.sql), public's functions of arbe's names:
# wrapper -> [(what the mutation does, text in its source, replacement)], checked like FUNCTION_MUTATIONS.
WRAPPER_MUTATIONS = {
    "create_invite": [("invites grant admin", "create_invite.email, create_invite.role)", "create_invite.email, 'admin')")],
    "create_api_key": [("agent keys made house-wide", "create_api_key.agent_id, create_api_key.name)",
                        "NULL, create_api_key.name)")],
}
WRAPPERS = ("public.create_invite(uuid, text, text)", "public.lookup_invite(text)", "public.accept_invite(text)",
            "public.create_api_key(uuid, uuid, text)", "public.set_secret(uuid, text)")
# Their grants: the Data API is how clients call them, and they must add no privilege.
WRAPPER_GRANTS = (
    ("Data API wrappers: not executable by authenticated", f"REVOKE EXECUTE ON FUNCTION {', '.join(WRAPPERS)} FROM authenticated;"),
    ("Data API wrappers: SECURITY DEFINER, executable by PUBLIC",
     " ".join(f"ALTER FUNCTION {w} SECURITY DEFINER;" for w in WRAPPERS)
     + f" GRANT EXECUTE ON FUNCTION {', '.join(WRAPPERS)} TO PUBLIC;"),
)
# trigger -> [(what the mutation does, text in its CREATE TRIGGER, replacement)], checked like FUNCTION_MUTATIONS.
# Curated mutations apply to the bookkeeping triggers too (NOT_SECURITY_TRIGGERS are
# only never dropped): their WHEN clauses decide when a rule runs at all.
TRIGGER_MUTATIONS = {
    "threads_limit_key_columns": [("keys change environment_id, kind and config",
                                   "limit_key_columns('status', 'title', 'usage')",
                                   "limit_key_columns('status', 'title', 'usage', 'environment_id', 'kind', 'config')")],
    # The property's no-op write of a thread must leave updated_at (the key's column limits are there).
    "threads_touch_updated_at": [("no-op writes bump updated_at", "FOR EACH ROW WHEN (record_image_ne(old, new)) EXECUTE",
                                  "FOR EACH ROW EXECUTE")],
    # A WHEN that forgets a column leaves it mutable: the property writes created_by.
    "threads_keep_immutable": [("created_by left out of the WHEN", "(old.id, old.house_id, old.created_by, old.created_at)",
                                "(old.id, old.house_id, new.created_by, old.created_at)")],
    "agents_freeze_deleted": [("deleted rows stay writable (WHEN)", "WHEN (old.deleted_at IS NOT NULL)",
                               "WHEN (old.deleted_at IS NULL)")],
}
# One stray grant on the private schema: every credential hash and secret value
# would be one SELECT away for any caller.
PRIVATE_GRANT = ("GRANT USAGE ON SCHEMA arbe_private TO anon, authenticated; "
                 "GRANT SELECT ON ALL TABLES IN SCHEMA arbe_private TO anon, authenticated;")
# Functions only service_role may run: granting them to callers is a mutant too.
SERVICE_ONLY = ("arbe.resolve_api_key(text)", "arbe.read_secret(uuid)")
# Definer helpers only the owner's triggers call: the grant revocation is a guard
# (a caller holding EXECUTE could lock or write any house row), so re-granting is a mutant.
OWNER_ONLY = ("arbe.assert_keeps_an_owner(uuid, uuid)", "arbe.lock_house(uuid)", "arbe.lock_agent(uuid, uuid)")


@dataclass(frozen=True)
class Mutant:
    name: str
    sql: str
    source: str  # file the mutated statement comes from
    races: tuple[str, ...] = ()  # the race groups (race_scenarios.py) that show it: run them first
    electric_role: str | None = None  # a role of its own the mutant set up as electric/20_role.sql does


def _statements(text: str):
    """(statement node, its source text) for each statement, via PostgreSQL's parser
    (pglast reports locations in characters of the str it was given)."""
    for stmt in pglast.parse_sql(text):
        yield stmt.stmt, text[stmt.stmt_location:stmt.stmt_location + stmt.stmt_len]


def _policy_mutants(node, path: str) -> list[Mutant]:
    name, table = node.policy_name, f"{node.table.schemaname or 'public'}.{node.table.relname}"
    on = f"{name} ON {table}"
    out = [Mutant(f"policy {name}: dropped", f"DROP POLICY {on};", path)]
    if node.qual is not None:
        out.append(Mutant(f"policy {name}: USING (true)", f"ALTER POLICY {on} USING (true);", path))
    if node.with_check is not None:
        out.append(Mutant(f"policy {name}: WITH CHECK (true)", f"ALTER POLICY {on} WITH CHECK (true);", path))
    if [r.rolename for r in node.roles or []] == ["authenticated"]:
        out.append(Mutant(f"policy {name}: TO PUBLIC", f"ALTER POLICY {on} TO PUBLIC;", path))
    return out


def _curated_mutants(kind: str, mutations: dict, name: str, source: str, path: str) -> list[Mutant]:
    """A function's or trigger's curated mutations: its CREATE OR REPLACE with the text replaced."""
    out = []
    for what, old, new in mutations.get(name, []):
        if source.count(old) != 1:
            raise ArbedbError(f"{path}: mutation {name!r} ({what}) expects its text exactly once in the "
                              f"{kind}; update {kind.upper()}_MUTATIONS in tooling/arbedb/rls/mutants.py")
        out.append(Mutant(f"{kind} {name}: {what}", source.replace(old, new) + ";", path))
    return out


def _enables_rls(node) -> bool:
    return any(cmd.subtype == AlterTableType.AT_EnableRowSecurity for cmd in node.cmds)


def _widened_role(node, source: str, path: str, perms: Permissions) -> list[Mutant]:
    """An UPDATE policy of a declared table that asks for admin, asking only for membership."""
    table = node.table.relname
    if (table not in perms or perms[table].special or node.cmd_name != "update"
            or source.count(ADMIN_HOUSES) != 1):
        return []
    on = f"{node.policy_name} ON public.{table}"
    return [Mutant(f"policy {node.policy_name}: role widened to member",
                   f"DROP POLICY {on}; {source.replace(ADMIN_HOUSES, MEMBER_HOUSES)};", path)]


def _table_mutants(perms: Permissions) -> list[Mutant]:
    """Per declared table (not the special ones, whose guards have their own mutants):
    every trigger it carries disabled at once. And per declared table no other declared
    table hangs under: callers granted DELETE with a permissive policy (callers only ever
    soft-delete). (A parent's rows in a world all have children, whose foreign keys refuse
    the DELETE on their own, and every table hangs under houses: houses and agents would
    survive without a hole.)"""
    return [Mutant(f"table public.{t}: triggers disabled", f"ALTER TABLE public.{t} DISABLE TRIGGER USER;",
                   perms.source) for t, rules in perms.tables.items() if not rules.special] + [
        Mutant(f"table public.{t}: callers may DELETE", f"GRANT DELETE ON public.{t} TO authenticated; "
               f"CREATE POLICY arbedb_mutant_delete ON public.{t} FOR DELETE TO authenticated USING (true);",
               perms.source) for t in perms.names if not perms.children_of(t) and perms[t].special != "houses"]


ADMIN_HOUSES, MEMBER_HOUSES = "arbe.caller_house_ids('admin')", "arbe.caller_house_ids('member')"


def derive(project: Project, perms: Permissions) -> list[Mutant]:
    from . import sealing, views

    mutants: list[Mutant] = _table_mutants(perms)
    seen_functions, seen_triggers, seen_wrappers, functions = set(), set(), set(), []
    curated = {f: FUNCTION_MUTATIONS.get(f, []) + sealing.MUTATIONS.get(f, [])
               for f in {*FUNCTION_MUTATIONS, *sealing.MUTATIONS}}
    for f in declarative_files(project):
        if not f.relpath.startswith(("policies/", "triggers/")):
            continue
        for node, source in _statements(f.text):
            kind = type(node).__name__
            if kind == "CreatePolicyStmt":
                mutants += _policy_mutants(node, f.relpath) + _widened_role(node, source, f.relpath, perms)
            elif kind == "CreateTrigStmt":
                if not node.trigname.endswith(NOT_SECURITY_TRIGGERS):
                    mutants.append(Mutant(f"trigger {node.trigname}: dropped",
                                          f"DROP TRIGGER {node.trigname} ON public.{node.relation.relname};", f.relpath))
                seen_triggers.add(node.trigname)
                mutants += _curated_mutants("trigger", TRIGGER_MUTATIONS, node.trigname, source, f.relpath)
            elif kind == "CreateFunctionStmt" and node.funcname[0].sval == "public":
                seen_wrappers.add(node.funcname[-1].sval)
                mutants += _curated_mutants("wrapper", WRAPPER_MUTATIONS, node.funcname[-1].sval, source, f.relpath)
            elif kind == "CreateFunctionStmt" and node.funcname[0].sval in ("arbe", "arbe_private"):
                # (FUNCTION_MUTATIONS names arbe's and arbe_private's functions; public's Data API
                # wrappers share arbe's names.)
                seen_functions.add(node.funcname[-1].sval)
                functions.append((node.funcname[-1].sval, source, f.relpath))
                mutants += _curated_mutants("function", curated, node.funcname[-1].sval, source, f.relpath)
            elif kind == "AlterTableStmt" and _enables_rls(node):
                table = f"{node.relation.schemaname}.{node.relation.relname}"
                mutants.append(Mutant(f"table {table}: RLS disabled",
                                      f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY, NO FORCE ROW LEVEL SECURITY;",
                                      f.relpath))
            elif kind == "GrantStmt" and node.is_grant and any(p.cols for p in node.privileges or []):
                for obj in node.objects:
                    grantees = ", ".join(g.rolename for g in node.grantees)
                    mutants.append(Mutant(f"grant on {obj.relname}: all columns",
                                          f"GRANT UPDATE ON public.{obj.relname} TO {grantees};", f.relpath))
    missing = ((set(curated) - seen_functions) | (set(TRIGGER_MUTATIONS) - seen_triggers)
               | (set(WRAPPER_MUTATIONS) - seen_wrappers))
    if missing:
        raise ArbedbError(f"FUNCTION_MUTATIONS, TRIGGER_MUTATIONS or WRAPPER_MUTATIONS names what is not in policies/ "
                          "or triggers/: "
                          f"{sorted(missing)}")
    mutants.append(Mutant("arbe_private's tables readable by callers", PRIVATE_GRANT, "policies/00_privileges.sql"))
    mutants += [Mutant(name, text, "policies/70_data_api.sql") for name, text in WRAPPER_GRANTS]
    mutants += [Mutant(f"execute {fn} granted to authenticated", f"GRANT EXECUTE ON FUNCTION {fn} TO authenticated;",
                       "policies/") for fn in SERVICE_ONLY + OWNER_ONLY]
    return mutants + views.mutants(project, functions)


@dataclass(frozen=True)
class Verdict:
    mutant: Mutant
    killed: bool
    reason: str  # the first disagreement, or why it survived


# The scratch database of this worker process (one per worker, see run_mutants).
_scratch: str | None = None


def _claim(scratch) -> None:
    """A worker's initializer: take a scratch database of its own for every mutant it runs."""
    global _scratch
    _scratch = scratch.get()


def _try(mutant: Mutant, perms, examples: int, seed_value: int, project: Project | None = None,
         admin_dsn: str | None = None, template: str | None = None) -> Verdict:
    """In a worker process: with a ``project``, what is not a caller's view first (views.py),
    then the property; each on the worker's scratch database with the mutant applied inside
    the run's transaction, so it is rolled back with everything else (PostgreSQL's DDL is
    transactional): no clone to make and drop per mutant. The races commit their worlds, so
    a mutant with races (and the unmutated schema) faces them on a clone of its own first."""
    import logging

    import psycopg

    from . import views
    from .checks import SetupFailed, run

    # A mutant that makes a pipelined read fail is killed by that failure; psycopg
    # then also warns that it could not end the aborted pipeline, which says
    # nothing more. Only in this worker, whose every failure becomes a verdict.
    logging.getLogger("psycopg").setLevel(logging.ERROR)
    try:
        if project is not None and mutant.races:
            from ..testing.cluster import TestCluster

            with TestCluster(admin_dsn).database(template=template) as dsn:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute(mutant.sql)
                reason = views.race_broken(dsn, mutant.races)
            if reason:
                return Verdict(mutant, True, reason)
        try:
            if project is not None:
                reason = views.unseen(_scratch, project, mutant.electric_role, setup=mutant.sql)
                if reason:
                    return Verdict(mutant, True, reason)
            run(_scratch, perms, examples=examples, seed_value=seed_value, shrink=False, full_sweep=True,
                setup=mutant.sql)
        except SetupFailed as exc:
            raise ArbedbError(f"mutant {mutant.name!r} ({mutant.source}) does not apply: {exc}; "
                              "update tooling/arbedb/rls/mutants.py") from None
        except Exception as exc:  # any failure of the property kills the mutant
            return Verdict(mutant, True, first_line(exc)[:300])
    finally:
        if mutant.electric_role and admin_dsn:  # cluster-wide: dropped in case a race clone committed it
            with psycopg.connect(admin_dsn, autocommit=True) as conn:
                conn.execute(f'DROP ROLE IF EXISTS "{mutant.electric_role}"')
    return Verdict(mutant, False, f"the property held on {examples} worlds")


# Run beside the mutants, with the same worlds: a mutant is only "killed" if the
# schema as written passes, else every verdict would be noise.
def unmutated() -> Mutant:
    """The schema as written, facing every race group too."""
    from .race_scenarios import GROUPS

    return Mutant("none: the schema as written", "SELECT 1;", "", races=GROUPS)


def run_mutants(admin_dsn: str, template: str, mutants: list[Mutant], perms: Permissions, *, examples: int,
                seed_value: int, jobs: int | None = None, on_verdict=None, project: Project | None = None
                ) -> list[Verdict]:
    """Every mutant against a clone of ``template``, ``jobs`` at a time, each applied and
    rolled back inside its run's transaction on its worker's own clone; with ``project``,
    what is not a caller's view is checked too (views.py)."""
    from contextlib import ExitStack
    from multiprocessing import SimpleQueue

    from ..testing.cluster import TestCluster

    jobs = jobs or os.cpu_count() or 1
    verdicts = []
    cluster = TestCluster(admin_dsn)
    # One clone of the template per worker, made up front, each taken by one worker for all
    # the mutants it runs (a clone made and dropped per mutant cost 3-9 s of a shared
    # machine's I/O: DROP DATABASE waits for a checkpoint).
    with ExitStack() as clones:
        scratch = SimpleQueue()
        for _ in range(jobs):
            scratch.put(clones.enter_context(cluster.database(template=template)))
        with ProcessPoolExecutor(max_workers=jobs, initializer=_claim, initargs=(scratch,)) as pool:
            args = (perms, examples, seed_value, project, admin_dsn, template)
            baseline = pool.submit(_try, unmutated(), *args)
            futures = [pool.submit(_try, m, *args) for m in mutants]
            for future in as_completed(futures):
                verdict = future.result()
                verdicts.append(verdict)
                if on_verdict:
                    on_verdict(verdict)
            if baseline.result().killed:
                raise ArbedbError(f"the property fails on the unmutated schema ({baseline.result().reason}); "
                                  "fix that first: `arbedb rls-test` shows the world")
    return sorted(verdicts, key=lambda v: v.mutant.name)
