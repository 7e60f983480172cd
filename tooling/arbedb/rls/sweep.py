"""The systematic sweep: probes, each rolled back, so no table, column or role is
left to chance (what an UPDATE without WHERE reaches, every updatable column of a
live and a deleted row, inserts, the credential functions by one caller of every
kind, service_role's invariants), and the kept writes a probe cannot judge (the
liveness copies, timestamps, re-joining, hard deletes). One part of the property
(checks.check_world); its own module so that checks.py holds the world-level checks."""

from __future__ import annotations

from functools import partial

from ..testing.impersonate import acting_as
from ..testing.probes import Probes
from . import model
from .checks import Disagreement, _expect, check_reads, check_state, check_write
from .model import Caller, Row, World
from .report import namer
from .writes import NOW, bulk_touch, execute, session, try_write


def probe(probes: Probes, world: World, caller: Caller, write) -> None:
    """Queue a write, always rolled back: accepted exactly when the model allows
    it. Judged when the batch runs, against ``world`` as it is then: the world
    must not change before (the sweep changes only copies)."""
    try_write(probes, world.perms, caller, write, partial(_expect, world, caller, write))


def representatives(world: World, callers: list[Caller], house) -> list[Caller]:
    """One caller of each kind for a house, highest role first: each role in it,
    an outsider, and the nobodies."""
    by_kind = {}
    for c in callers:
        if c.user_id:
            # (and, in a soft-deleted house, the role its members would have: a check that
            # forgets the house's liveness lets exactly them through)
            held = next((m.data["role"] for m in world.rows["members"].values() if m.house_id == house
                         and m.data["user_id"] == c.user_id and not m.deleted), None)
            by_kind.setdefault((world.role_in(c.user_id, house) or "outsider", _left(world, c, house), held), c)
    ranked = sorted(by_kind.items(), key=lambda kv: (-model.RANK.get(kv[0][0], 0), kv[0][1]))
    return [c for _, c in ranked] + [c for c in callers if not c.user_id and c.probed]


def _left(world: World, caller: Caller, house) -> bool:
    """The caller once had a membership in the house that is soft-deleted now."""
    return any(m.house_id == house and m.data["user_id"] == caller.user_id and m.deleted
               for m in world.rows["members"].values())


def _sweep_rejoin(conn, world: World, callers: list[Caller]) -> None:
    """A member who left accepts a new invite, kept (then rolled back) and the state
    compared: they are a member again, with a membership of their own."""
    for token, invite in world.tokens.items():
        row = world.rows["invites"].get(invite)
        write = model.Call("accept_invite", (token,))
        rejoiner = next((c for c in callers if row and c.user_id and _left(world, c, row.house_id)
                         and world.role_in(c.user_id, row.house_id) is None and model.allowed(world, c, write)), None)
        if rejoiner:
            with conn.transaction(force_rollback=True):
                check_write(conn, world.copy(), rejoiner, write)
            return


SERVICE = Caller("service_role", role="service_role", claims='{"role":"service_role"}')


def _sweep_service(probes: Probes, world: World, table: str, row, ids, users) -> None:
    """Trusted server code is held to the invariants too: immutable columns stay
    (docs/model.md §3: house_id never changes), and children inherit their parent's house."""
    import uuid

    for column in sorted(world.perms[table].immutable):
        current = row.house_id if column == "house_id" else row.data.get(column)
        value = {"house_id": _other(ids["houses"], current), "email": "other@example.com",
                 "role": "admin" if current == "member" else "member"}.get(column, _other(users, current))
        if value != current:
            write = model.Update(table, row.id, column, value)
            try_write(probes, world.perms, SERVICE, write,
                      partial(_service_refused, write, f"{table}.{column} is immutable"))
    for column, parent_table in world.perms[table].parents:
        parent = next((i for i in ids[parent_table] if world.rows[parent_table][i].house_id == row.house_id), None)
        if parent is None:
            continue
        write = model.Insert(table, uuid.uuid5(uuid.NAMESPACE_URL, f"service/{table}/{column}"), None,
                             parents=((column, parent),))
        try_write(probes, world.perms, SERVICE, write, partial(_service_accepted, write, f"its {parent_table[:-1]}'s house"))


def _service_refused(write, why: str, outcome: tuple) -> None:
    if outcome[0]:
        raise Disagreement(f"service_role: {write!r} was accepted; {why}")


def _service_accepted(write, house: str, outcome: tuple) -> None:
    if not outcome[0]:
        raise Disagreement(f"service_role: {write!r} was refused ({outcome[2]}); the child should take {house}")


def _other(ids: list, current):
    return next((i for i in ids if i != current), current)


def sweep(conn, world: World, callers: list[Caller], tables) -> None:
    """Systematic probes, each rolled back, so no table, column or role is left
    to chance: what an UPDATE without WHERE reaches; every updatable column of a
    live and of a deleted row; inserts with and without house and author; and
    the credential functions, each by one caller of every kind.

    The probes are queued and run in batches (testing/probes.py), each batch
    before the next write that is kept, and judged in the order queued: the
    first disagreement reported is the one probing one by one would report."""
    ids = {t: sorted(world.rows[t], key=str) for t in world.perms.names}
    # The core house ("house 0", see worlds.CORE_ROWS) first: it has every role.
    ids["houses"].sort(key=lambda h: world.rows["houses"][h].data["name"] != "house 0")
    users = sorted(world.users, key=str)
    with Probes(conn) as probes:
        for table in tables:
            _sweep_table(conn, probes, world, callers, table, ids, users)
        if "invites" in tables or "api_keys" in tables or "secrets" in tables:
            _sweep_functions(probes, world, callers, ids)
    if "invites" in tables:
        _sweep_rejoin(conn, world, callers)
    if "houses" in tables:
        _sweep_house_liveness(conn, world, callers, ids)
    if "agents" in tables:
        _sweep_agent_liveness(conn, world, callers, ids)
    if "members" in tables:
        _sweep_hard_deletes(conn, world, callers, ids)
    from .paths import sweep_paths  # here, not at the top: paths.py builds on this module

    sweep_paths(conn, world, callers, tables, ids)


def _sweep_table(conn, probes: Probes, world: World, callers: list[Caller], table: str, ids, users) -> None:
    """One table's probes: UPDATE without WHERE by every caller, each updatable
    column of the chosen rows by one caller of each kind, service_role's
    invariants, the inserts."""
    for caller in callers:
        bulk_touch(probes, world.perms, caller, table, partial(_touched, world, caller, table))
    rows = world.rows[table]
    # One live and one deleted row; every membership, since who may change
    # one depends on whose it is.
    chosen = [rows[i] for i in ids[table] if table == "members"] or [
        next((rows[i] for i in ids[table] if rows[i].deleted == deleted), None) for deleted in (False, True)]
    rules = world.perms[table]
    if rules.agent_key.update:  # and a live row an agent key reaches: its allowed and refused columns
        scopes = {model.live_key(world, c.api_key_id) for c in callers if c.api_key_id}
        chosen.append(next((rows[i] for i in ids[table] if not rows[i].deleted
                            and (rows[i].house_id, rows[i].data[rules.agent_column]) in scopes), None))
    for row in filter(None, chosen):
        deleted = row.deleted
        kinds = representatives(world, callers, row.house_id)
        for column, source in rules.update_probes.items():
            current = row.house_id if column == "house_id" else row.data.get(column)
            values = ([NOW] if source == NOW else [_other(users, current)] if source == "@users"
                      else [_other(ids[source[1:]], current)] if isinstance(source, str) else source)
            for value in values:
                for caller in kinds[: None if not deleted else 1]:
                    probe(probes, world, caller, model.Update(table, row.id, column, value))
        for caller in kinds:  # a hard DELETE, which no caller may send
            probe(probes, world, caller, model.Delete(table, row.id))
        if not deleted:
            _sweep_service(probes, world, table, row, ids, users)
    _sweep_inserts(conn, probes, world, callers, table, ids, users)
    _sweep_kept(conn, world, callers, table, [r for r in filter(None, chosen) if not r.deleted])


# Columns whose write a probe (rolled back, judged only by accepted or refused) cannot
# judge: what the write leaves behind is the point. The liveness copies a caller may
# send but never set, and updated_at, which the server stamps.
KEPT_COLUMNS = ("house_deleted_at", "agent_deleted_at", "updated_at")


def _sweep_kept(conn, world: World, callers: list[Caller], table: str, rows: list[Row]) -> None:
    """Each KEPT_COLUMNS column the table's probes name, written with now(), and one column
    written with the value it has, each on the first live row someone may write it on, by a
    key if one may (its column limits are what could forget updated_at), else the first
    caller allowed (in a rolled-back savepoint); then every table, copy and timestamp is
    compared with the model."""
    rules = world.perms[table]
    # And a no-op: a column the model holds set to the value it has (updated_at must stay).
    same = next((c for c in rules.update_probes if c in rules.columns and c not in rules.immutable
                 and c not in dict(rules.parents)), None)
    for column in [c for c in rules.update_probes if c in KEPT_COLUMNS] + ([same] if same else []):
        for row in rows:
            write = model.Update(table, row.id, column, row.data.get(column) if column == same else NOW)
            if write.value is None:
                continue
            allowed = [c for c in representatives(world, callers, row.house_id) if model.allowed(world, c, write)]
            writer = next((c for c in allowed if c.api_key_id), next(iter(allowed), None))
            if writer:
                with conn.transaction(force_rollback=True):
                    check_write(conn, world.copy(), writer, write)
                break


def _touched(world: World, caller: Caller, table: str, got: int | None) -> None:
    want = model.bulk_touch(world, caller, table)
    if got != want:
        raise Disagreement(f"{caller.label}: UPDATE {table} (no WHERE) touched {got} rows; model says {want}")


def _sweep_hard_deletes(conn, world: World, callers: list[Caller], ids) -> None:
    """service_role's DELETE of the core house's owners one by one, and the
    deletion of an owner's account (auth.users, memberships cascading): the model
    soft-deletes a live house whose last live owner goes (docs/decisions.md)."""
    core = ids["houses"][0]
    with conn.transaction(force_rollback=True):
        gone = world.copy()
        for member in [m for m in ids["members"] if m in {o.id for o in world.live_owners(core)}]:
            with acting_as(conn, *session(SERVICE), keep=True) as cur:
                cur.execute("DELETE FROM public.members WHERE id = %s", (member,))
            model.hard_delete_members(gone, [member])
            check_state(conn, gone, f"service_role: DELETE members {namer(world)([member])[0]}")
        check_reads(conn, gone, callers)
    owner = world.rows["houses"][core].data["created_by"]
    if owner is not None:
        with conn.transaction(force_rollback=True):
            gone = world.copy()
            conn.execute("DELETE FROM auth.users WHERE id = %s", (owner,))  # as the auth server does
            model.delete_account(gone, owner)
            check_state(conn, gone, "DELETE FROM auth.users (the core house's creator)")
            check_reads(conn, gone, callers)


def _sweep_house_liveness(conn, world: World, callers: list[Caller], ids) -> None:
    """A house's soft delete (by its owner) and restore (by service_role) reach
    every membership and key at once. (Memberships and keys carry a copy of their
    house's deleted_at; this is its upkeep.)"""
    dead = [h for h in ids["houses"] if world.rows["houses"][h].deleted]
    _sweep_liveness(conn, world, callers, "houses", ids["houses"][0], next(iter(dead), None))


def _sweep_agent_liveness(conn, world: World, callers: list[Caller], ids) -> None:
    """An agent's soft delete (by the core house's highest-ranked member) and
    restore (by service_role) reach its keys at once. (Keys carry a copy of their
    agent's deleted_at; this is its upkeep.)"""
    keyed = {r.data["agent_id"] for r in world.rows["api_keys"].values()}
    agents = [world.rows["agents"][a] for a in ids["agents"] if a in keyed]
    core = [a.id for a in agents if a.house_id == ids["houses"][0] and not a.deleted]
    dead = [a.id for a in agents if a.deleted and world.house_live(a.house_id)]
    _sweep_liveness(conn, world, callers, "agents", next(iter(core), None), next(iter(dead), None))


def _sweep_liveness(conn, world: World, callers: list[Caller], table: str, live, dead) -> None:
    """Soft-delete the live row (as its house's highest-ranked member), restore the
    dead one (as service_role), each in a rolled-back savepoint; after each, every
    caller reads what the model says."""
    if live is not None:
        with conn.transaction(force_rollback=True):
            gone = world.copy()
            deleter = representatives(world, callers, world.rows[table][live].house_id)[0]
            check_write(conn, gone, deleter, model.Update(table, live, "deleted_at", NOW))
            check_reads(conn, gone, callers)
    if dead is not None:
        with conn.transaction(force_rollback=True):
            if not execute(conn, world.perms, SERVICE, model.Update(table, dead, "deleted_at", None))[0]:
                raise Disagreement(f"service_role could not restore a soft-deleted {table[:-1]}")
            back = world.copy()
            back.rows[table][dead].deleted = False
            check_reads(conn, back, callers)


def _sweep_inserts(conn, probes: Probes, world, callers, table, ids, users) -> None:
    import uuid

    house = ids["houses"][0]
    rules = world.perms[table]
    own = {t: next((i for i in ids[t] if world.rows[t][i].house_id == house), None) for _, t in rules.parents}
    first_parent = tuple((c, own[t]) for c, t in rules.parents[:1])  # one parent: configs allow only one
    key_inserts = []
    for caller in representatives(world, callers, house):
        if rules.agent_key.insert and caller.api_key_id:  # a key's own agent, with and without the house
            scope = model.live_key(world, caller.api_key_id) or (house, dict(first_parent).get(rules.agent_column))
            for n, with_house in enumerate((True, False)):
                write = model.Insert(table, uuid.uuid5(uuid.NAMESPACE_URL, f"key/{table}/{caller.label}/{n}"),
                                     scope[0] if with_house else None, None, ((rules.agent_column, scope[1]),))
                probe(probes, world, caller, write)
                key_inserts.append((caller, write))
        for n, (with_house, author) in enumerate(((True, None), (False, None), (True, _other(users, caller.user_id)))):
            write = model.Insert(table, uuid.uuid5(uuid.NAMESPACE_URL, f"{table}/{house}/{caller.label}/{n}"),
                                 house if with_house else None, author, first_parent)
            probe(probes, world, caller, write)
    probes.run()  # before the kept write, which changes the database
    # One insert kept (then rolled back) and the whole state compared, so what a
    # probe cannot see (the row's timestamps: the client sends its own) is checked.
    kept = next(((c, w) for c in representatives(world, callers, house) for w in [model.Insert(
        table, uuid.uuid5(uuid.NAMESPACE_URL, f"{table}/{house}/{c.label}/kept"), house, None, first_parent)]
        if model.allowed(world, c, w)), None)
    # And a key's, which goes through its own policy (and must not keep its clock either).
    kept_by_key = next(((c, w) for c, w in key_inserts if model.allowed(world, c, w)), None)
    for writer in filter(None, (kept, kept_by_key)):
        with conn.transaction(force_rollback=True):
            check_write(conn, world.copy(), *writer)


def _sweep_functions(probes: Probes, world, callers, ids) -> None:
    # The core house, a soft-deleted one if any, and one more.
    deleted = [h for h in ids["houses"] if world.rows["houses"][h].deleted][:1]
    for house in dict.fromkeys(ids["houses"][:1] + deleted + ids["houses"][1:2]):
        agents = [a for a in ids["agents"] if world.rows["agents"][a].house_id == house]
        for caller in representatives(world, callers, house):
            if caller.anon or caller.role:
                continue  # no EXECUTE at all: covered by the grants, not by the function
            email = caller.email or "x@example.com"
            for write in (model.Call("create_invite", (house, email, "member")),
                          model.Call("create_invite", (house, email, "owner")),
                          model.Call("create_api_key", (house, agents[0] if agents else None, "k"))):
                probe(probes, world, caller, write)
            for secret in [s for s in ids["secrets"] if world.rows["secrets"][s].house_id == house][:1]:
                probe(probes, world, caller, model.Call("set_secret", (secret, "v")))
    for token in world.tokens:
        for caller in callers:
            if not caller.anon and not caller.role:
                probe(probes, world, caller, model.Call("accept_invite", (token,)))
