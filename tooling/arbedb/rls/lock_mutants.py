"""The lock mutants: the serialising writes of the schema weakened in the ways only two
transactions at once can tell (a row lock or a plain read instead of a write, no lock,
the lock after the check). `rls-test --mutate` runs each against the races of its
group (race_scenarios.py), the same the tests run; none of them is seen by the property."""

from __future__ import annotations

_HOUSE_WRITE = ("UPDATE public.houses AS h SET deleted_at = h.deleted_at WHERE h.id = lock_house.house_id\n"
                "        RETURNING h.* INTO house;")
_AGENT_WRITE = ("UPDATE public.agents AS a SET deleted_at = a.deleted_at\n"
                "    WHERE a.house_id = lock_agent.house_id AND a.id = lock_agent.agent_id\n"
                "    RETURNING a.* INTO agent;")
_AGENT_READ = ("SELECT a.* INTO agent FROM public.agents AS a\n"
               "    WHERE a.house_id = lock_agent.house_id AND a.id = lock_agent.agent_id")
_SLOT = ("    INSERT INTO arbe_private.creation_slots AS s (scope, id)\n"
         "    VALUES (TG_TABLE_NAME, CASE WHEN per_house IS NULL THEN me ELSE NEW.house_id END)\n"
         "    ON CONFLICT ON CONSTRAINT creation_slots_pkey DO UPDATE SET scope = s.scope;\n")
_OWNER_CHECK = ("    house public.houses := arbe.lock_house(assert_keeps_an_owner.house_id);\nBEGIN\n")
_REGISTRY = ("    INSERT INTO arbe_private.thread_ids AS r (id, house_id)\n"
             "    SELECT n.id, n.house_id FROM inserted AS n\n"
             "    ON CONFLICT (id) DO NOTHING;\n    IF EXISTS (")
# function -> [(what the mutation does, [(text in its source, replacement), ...], the race groups that show it)];
# each text expected exactly once in the function, like mutants.FUNCTION_MUTATIONS.
LOCK_MUTATIONS = {
    "lock_house": [
        ("the house row only locked, not written", [(_HOUSE_WRITE, "SELECT h.* INTO house FROM public.houses AS h "
                                                     "WHERE h.id = lock_house.house_id FOR UPDATE;")],
         ("last owner", "membership liveness", "key liveness")),
        ("the house row read, not locked", [(_HOUSE_WRITE, "SELECT h.* INTO house FROM public.houses AS h "
                                                          "WHERE h.id = lock_house.house_id;")],
         ("last owner", "membership liveness", "key liveness")),
    ],
    "lock_agent": [
        ("the agent row only locked, not written", [(_AGENT_WRITE, _AGENT_READ + "\n    FOR UPDATE;")],
         ("key liveness",)),
        ("the agent row read, not locked", [(_AGENT_WRITE, _AGENT_READ + ";")], ("key liveness",)),
    ],
    # The decision taken on what was read before the house row was written.
    "assert_keeps_an_owner": [
        ("the house row written after the owners are counted", [(_OWNER_CHECK, (
            "    house public.houses := (SELECT h FROM public.houses AS h WHERE h.id = assert_keeps_an_owner.house_id);\n"
            "    others boolean := EXISTS (SELECT FROM public.members AS m\n"
            "        WHERE m.house_id = assert_keeps_an_owner.house_id AND m.id <> assert_keeps_an_owner.member_id\n"
            "          AND m.role = 'owner' AND m.deleted_at IS NULL);\n"
            "BEGIN\n    PERFORM arbe.lock_house(assert_keeps_an_owner.house_id);\n"
            "    IF others THEN\n        RETURN;\n    END IF;\n"))], ("last owner",)),
    ],
    "limit_creation": [
        ("the slot only locked, not written", [(_SLOT, _SLOT.replace(
            "DO UPDATE SET scope = s.scope;", "DO NOTHING;\n    PERFORM FROM arbe_private.creation_slots AS s\n"
            "    WHERE s.scope = TG_TABLE_NAME AND s.id = CASE WHEN per_house IS NULL THEN me ELSE NEW.house_id END\n"
            "    FOR UPDATE;"))], ("creation slots",)),
        ("no slot taken", [(_SLOT, "")], ("creation slots",)),
        ("the slot taken after the count", [(_SLOT, ""), ("    IF mine >= per_creator THEN", _SLOT + "    IF mine >= per_creator THEN")],
         ("creation slots",)),
    ],
    # Checked on what the statement sees, then written with a conflict swallowed.
    "register_thread_id": [
        ("the registry read before it is written", [(_REGISTRY, (
            "    IF EXISTS (SELECT FROM inserted AS n JOIN arbe_private.thread_ids AS r ON r.id = n.id\n"
            "               WHERE r.house_id <> n.house_id)\n"
            "    THEN\n        RAISE EXCEPTION 'duplicate key value violates unique constraint \"threads_pkey\"'\n"
            "            USING ERRCODE = '23505', CONSTRAINT = 'threads_pkey';\n    END IF;\n"
            "    BEGIN\n        INSERT INTO arbe_private.thread_ids AS r (id, house_id)\n"
            "        SELECT n.id, n.house_id FROM inserted AS n;\n"
            "    EXCEPTION WHEN unique_violation THEN\n        NULL;\n    END;\n    IF false AND EXISTS ("))],
         ("thread ids",)),
    ],
}


def lock_mutants(sources) -> list:
    """The lock mutants, from ``sources``: (function name, its CREATE statement's text, file) of the
    declarative files, as mutants.derive reads them."""
    from ..errors import ArbedbError
    from .mutants import Mutant

    out, seen = [], set()
    for name, source, path in sources:
        for what, edits, groups in LOCK_MUTATIONS.get(name, []):
            seen.add(name)
            text = source
            for old, new in edits:
                if text.count(old) != 1:
                    raise ArbedbError(f"{path}: lock mutation {name!r} ({what}) expects its text exactly once in the "
                                      "function; update LOCK_MUTATIONS in tooling/arbedb/rls/lock_mutants.py")
                text = text.replace(old, new)
            out.append(Mutant(f"lock {name}: {what}", text + ";", path, races=groups))
    missing = set(LOCK_MUTATIONS) - seen
    if missing:
        raise ArbedbError(f"LOCK_MUTATIONS names what is not in policies/ or triggers/: {sorted(missing)}")
    return out
