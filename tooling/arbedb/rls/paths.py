"""Paths the rest of the property never took (issue 18 item 11), swept like the rest
(sweep.py) in every world whose swept tables reach them; each has its mutants in --mutate.

- data_api: the `public` Data API wrappers (policies/70_data_api.sql), which the Supabase
  clients call: every caller kind calls each one and reads lookup_invite through it; an
  owner's calls through them are kept and every table, key and secret compared after.
  The invite it makes is typed with surrounding spaces and in upper case: stored as
  arbe.email_key (the projection reads the stored text), and accepted by its invitee.
- inviter_elsewhere: an invite made by a plain member of its house (as an admin demoted
  since would have; worlds.CORE_ROWS) must not work, nor once that member owns a house
  of their own: standing counts in the invite's house only.
- service_in_dead_house: service_role in a soft-deleted house: the last-owner rule is a
  live house's, so every owner may be demoted or hard-deleted, and the house stays as it
  was (not deleted again, not re-dated).
- limits: a world at its creation limits (triggers/45_limits.sql), reached cheaply:
  filler rows made by service_role (whom no limit counts) with now() as their creation
  time, one INSERT each, then the caller's next creation just under and at each limit.
"""

from __future__ import annotations

import json
import uuid
from functools import partial


from ..testing.probes import Probes
from . import model
from .checks import (INSUFFICIENT_PRIVILEGE, Disagreement, check_frozen, check_reads, check_state, check_write,
                     deleted_rows)
from .model import Call, Caller, World
from .sweep import SERVICE, probe, representatives
from .writes import NOW, execute, session

WRAPPED = ("create_invite", "accept_invite", "create_api_key", "set_secret")
LOOKUP_VIA_API = ("SELECT coalesce(jsonb_agg(jsonb_build_array(t, l.house_id, l.role) ORDER BY t), '[]') "
                  "FROM unnest(%s::text[]) AS t CROSS JOIN LATERAL public.lookup_invite(t) AS l")


def sweep_paths(conn, world: World, callers: list[Caller], tables, ids) -> None:
    if {"invites", "api_keys", "secrets"} & set(tables):
        data_api(conn, world, callers, ids)
    if "invites" in tables:
        inviter_elsewhere(conn, world, callers)
    if {"houses", "members"} & set(tables):
        service_in_dead_house(conn, world, callers, ids)
    if {"houses", "invites", "api_keys"} & set(tables):
        limits(conn, world, callers, ids)


# ------------------------------------------------------------------ the Data API wrappers

def data_api(conn, world: World, callers: list[Caller], ids) -> None:
    core = ids["houses"][0]
    kinds = representatives(world, callers, core)
    agents = [a for a in ids["agents"] if world.rows["agents"][a].house_id == core and not world.rows["agents"][a].deleted]
    secrets = [s for s in ids["secrets"] if world.rows["secrets"][s].house_id == core]
    tokens = list(world.tokens)
    with Probes(conn) as probes:
        for caller in kinds:
            calls = [Call("create_invite", (core, caller.email or "x@example.com", "member"), "public"),
                     Call("create_api_key", (core, agents[0] if agents else None, "k"), "public")]
            calls += [Call("set_secret", (s, "v"), "public") for s in secrets[:1]]
            calls += [Call("accept_invite", (t,), "public") for t in tokens]
            for write in calls:
                probe(probes, world, caller, write)
            probes.add(*session(caller), LOOKUP_VIA_API, (tokens,), returns_value=True,
                       then=partial(_looked_up, world, caller))
    owner = kinds[0]
    invitee = next((c for c in callers if c.user_id and c.email and c.email.isascii() and c is not owner
                    and world.role_in(c.user_id, core) is None), None) or next(
        (c for c in callers if c.user_id and c.email and c.email.isascii() and c is not owner), None)
    with conn.transaction(force_rollback=True):
        kept = world.copy()
        if invitee is not None:
            typed = f"  {invitee.email.upper()} "
            check_write(conn, kept, owner, Call("create_invite", (core, typed, "member"), "public"))
            token = next((t for t in kept.tokens if t not in world.tokens), None)
            if token is not None:
                check_write(conn, kept, invitee, Call("accept_invite", (token,), "public"))
        if agents:
            check_write(conn, kept, owner, Call("create_api_key", (core, agents[0], "through the Data API"), "public"))
        for secret in secrets[:1]:
            check_write(conn, kept, owner, Call("set_secret", (secret, "set through the Data API"), "public"))
        check_reads(conn, kept, callers)  # the new invite's look-ups, the new key's resolution, the secret's value


def _looked_up(world: World, caller: Caller, outcome) -> None:
    want = sorted([t, str(r[0]), r[2]] for t in world.tokens for r in [model.lookup(world, caller, t)] if r)
    if outcome.error_code == INSUFFICIENT_PRIVILEGE and (caller.anon or caller.role):
        return  # no EXECUTE: the wrapper is authenticated's alone
    got = None if outcome.error_code else sorted(json.loads(outcome.value))
    if got != want:
        seen = f"failed ({outcome.error_code}: {outcome.error_message})" if outcome.error_code else f"shows {got}"
        raise Disagreement(f"{caller.label} public.lookup_invite (the Data API wrapper): database {seen}, "
                           f"model says {want}")


# ------------------------------------------------------------------ an inviter's standing

def inviter_elsewhere(conn, world: World, callers: list[Caller]) -> None:
    """The first invite whose inviter is a live member of its house below admin: that
    member creates a house of their own (kept, then rolled back), and every caller's
    look-ups are compared again."""
    for invite in sorted(world.rows["invites"].values(), key=lambda r: str(r.key())):
        inviter = invite.data["invited_by"]
        role = world.role_in(inviter, invite.house_id)
        maker = next((c for c in callers if c.user_id == inviter and c.user_id), None)
        if maker is None or model.RANK.get(role, 0) == 0 or model.RANK[role] >= model.RANK["admin"]:
            continue
        with conn.transaction(force_rollback=True):
            kept = world.copy()
            check_write(conn, kept, maker, model.Insert("houses", uuid.uuid5(uuid.NAMESPACE_URL, f"own/{inviter}"), None))
            check_reads(conn, kept, callers)
        return


# ------------------------------------------------------------------ service_role in a soft-deleted house

def service_in_dead_house(conn, world: World, callers: list[Caller], ids) -> None:
    """service_role demotes every owner of a soft-deleted house one by one, and (from the
    start again) hard-deletes them all: each accepted, the house left as it was. A world
    with no such house gets one: the core house, soft-deleted by its owner first."""
    dead = next((h for h in ids["houses"] if world.rows["houses"][h].deleted and world.live_owners(h)), None)
    for demote in (True, False):
        with conn.transaction(force_rollback=True):
            kept = world.copy()
            house = dead
            if house is None:
                house = ids["houses"][0]
                check_write(conn, kept, representatives(kept, callers, house)[0],
                            model.Update("houses", house, "deleted_at", NOW))
            owners = sorted(kept.live_owners(house), key=lambda m: str(m.id))
            writes = ([model.Update("members", m.id, "role", "member") for m in owners] if demote
                      else [model.Delete("members", m.id) for m in owners])
            for write in writes:
                label = f"service_role in a soft-deleted house: {write!r}"
                frozen = deleted_rows(conn, world.perms)
                accepted, _, seen = execute(conn, world.perms, SERVICE, write)
                if not accepted:
                    raise Disagreement(f"{label} was refused ({seen}); the last-owner rule is a live house's, "
                                       "and service_role may change a soft-deleted house's memberships")
                if demote:
                    kept.rows["members"][write.row_id].data["role"] = "member"
                else:
                    model.hard_delete_members(kept, [write.row_id])
                check_state(conn, kept, label)
                check_frozen(kept, frozen, deleted_rows(conn, world.perms), label)


# ------------------------------------------------------------------ creation limits

LIMITS_SQL = """
    SELECT c.relname, t.tgargs FROM pg_catalog.pg_trigger AS t
      JOIN pg_catalog.pg_class AS c ON c.oid = t.tgrelid
      JOIN pg_catalog.pg_proc AS p ON p.oid = t.tgfoid
     WHERE c.relnamespace = 'public'::regnamespace AND p.pronamespace = 'arbe'::regnamespace
       AND p.proname = 'limit_creation' AND t.tgenabled <> 'D' AND NOT t.tgisinternal
       AND t.tgtype & 4 <> 0"""  # an INSERT trigger
# Filler: rows created now, by ``creator`` (service_role, whom no limit counts, keeps the stamps it sends).
FILLER = {
    "houses": "INSERT INTO public.houses (name, created_by, created_at, updated_at) "
              "SELECT 'filler', %(creator)s, now(), now() FROM generate_series(1, %(n)s)",
    "invites": "INSERT INTO public.invites (house_id, email, role, invited_by, created_at, updated_at) "
               "SELECT %(house)s, 'filler' || g || '@example.com', 'member', %(creator)s, now(), now() "
               "FROM generate_series(1, %(n)s) AS g",
    "api_keys": "INSERT INTO public.api_keys (house_id, name, prefix, created_by, created_at, updated_at) "
                "SELECT %(house)s, 'filler', 'filler' || gen_random_uuid(), %(creator)s, now(), now() "
                "FROM generate_series(1, %(n)s)",
}


def configured_limits(conn) -> dict[str, tuple[int, ...]]:
    """table -> (per creator[, per house]) as the database's limit triggers are set: the
    numbers are the project's to choose (docs/decisions.md), that there is one is not."""
    found = {table: tuple(int(a) for a in bytes(args).split(b"\0")[1:] if a)
             for table, args in conn.execute(LIMITS_SQL).fetchall()}
    missing = [t for t in model.CREATION_LIMITED if t not in found]
    if missing:
        raise Disagreement(f"creation on {', '.join(missing)} is not limited (no enabled arbe.limit_creation "
                           "trigger; triggers/45_limits.sql); model says every user's creations are bounded")
    unbounded = [t for t in model.CREATION_LIMITED if len(found[t]) < (1 if t == "houses" else 2)]
    if unbounded:
        raise Disagreement(f"the creation limit of {', '.join(unbounded)} has no number per house (its trigger's "
                           "third argument); model says a house's invites and API keys are bounded too")
    return found


def limits(conn, world: World, callers: list[Caller], ids) -> None:
    """Per limited table, in rolled-back savepoints: with the filler just under a limit the
    caller's creation is accepted, at it refused; the other counts stay their own."""
    bounds = configured_limits(conn)
    core = ids["houses"][0]
    users = [c for c in callers if c.user_id]
    standing = [c for c in representatives(world, callers, core) if c.user_id
                and model.RANK.get(world.role_in(c.user_id, core), 0) >= model.RANK["admin"]]
    without = next((c.user_id for c in users if model.RANK.get(world.role_in(c.user_id, core), 0) < model.RANK["admin"]),
                   None)
    agent = None  # house-wide keys: every admin may make one
    if users:
        a, b = users[0], (users[1:] or users)[0]
        _scenario(conn, world, "houses", [(a.user_id, bounds["houses"][0] - 1)],
                  [(a, True), (a, False), (b, b.user_id != a.user_id)])
    for table, function in (("invites", "create_invite"), ("api_keys", "create_api_key")):
        if not standing:
            continue
        per_creator, per_house = bounds[table][:2]
        a, b = standing[0], (standing[1:] or standing)[0]
        call = (lambda c, n: Call(function, (core, f"user{n}@limit.example", "member"))) if table == "invites" else (
            lambda c, n: Call(function, (core, agent, f"limit {n}")))
        two = b.user_id != a.user_id
        # One member at their own limit; another member of standing still creates.
        _scenario(conn, world, table, [(a.user_id, per_creator - 1)], [(a, True), (a, False), (b, two)], call, core)
        if two:  # The house at its limit, filled by a creator of standing: then nobody creates.
            _scenario(conn, world, table, [(a.user_id, per_house - 1)], [(b, True), (b, False)], call, core)
        if without is not None:  # Filled by one with no standing in the house: it does not count.
            _scenario(conn, world, table, [(without, per_house)], [(a, True)], call, core)


def _scenario(conn, world: World, table: str, filler, tries, call=None, house=None) -> None:
    """Filler rows [(creator, how many)], then each (caller, accepted?) in turn, kept."""
    with conn.transaction(force_rollback=True):
        conn.execute("SET LOCAL ROLE service_role")
        for creator, n in filler:
            conn.execute(FILLER[table], {"creator": creator, "n": n, "house": house})
        conn.execute("RESET ROLE")
        for n, (caller, expected) in enumerate(tries):
            write = call(caller, n) if call else model.Insert(
                "houses", uuid.uuid5(uuid.NAMESPACE_URL, f"limit/{caller.label}/{n}"), None)
            accepted, _, seen = execute(conn, world.perms, caller, write)
            if accepted != expected:
                raise Disagreement(
                    f"{caller.label}: {write!r} with {', '.join(f'{k} {table} made in the last day by {str(c)[:8]}' for c, k in filler)}"
                    f"{' (and the accepted ones before it)' if n else ''} was {'accepted' if accepted else f'refused ({seen})'}; "
                    f"model says {'accept' if expected else 'refuse'} (triggers/45_limits.sql: creation limits)")
