"""What the declarations say each caller's command must do in the exported world.

The cells a declaration decides by itself come from the matrix's own reading of it
(``matrix.declared.expected``). What that leaves open is settled here for this world, whose
rows are known: a key reading or changing rows "of its agent" (the world's rows name the
sample agent through their first parent), a house created by any signed-in user, a house
soft-deleted by its owner only. Membership changes (members UPDATE) depend on code (the last
owner, who may grant what), so they are left to `arbedb rls-test`.
"""

from __future__ import annotations

from dataclasses import replace

from ..matrix.declared import expected
from ..permissions import TableRules
from ..permissions.declarations import NOW
from .tap import literal
from .world import USERS, World

# The matrix's names for the callers it shares with this export.
MATRIX_NAME = {"outsider": "non-member", "house key": "house key", "agent key": "agent key"}


def update_probe(rules: TableRules) -> tuple[str, str] | None:
    """(column, SQL value) an UPDATE probe sets: the first value the declaration's ``update_probes``
    offers for a column callers may change (a real change, so guards comparing old and new see it);
    else ``updated_at`` set to itself, judged by policies and grants alone."""
    for column, values in rules.update_probes.items():
        if column == "deleted_at" or column in rules.immutable or not rules.may_update(column):
            continue
        if values == NOW:
            return column, "now()"
        if isinstance(values, (list, tuple)) and values:
            return column, literal(values[0])
    return ("updated_at", "updated_at") if rules.updatable is None else None


def actions(rules: TableRules) -> list[str]:
    found = ["select", "insert"]
    if rules.special != "members":
        probe = update_probe(rules)
        found += ([f"update {probe[0]}"] if probe else []) + ["soft delete"]
    return found


def outcome(world: World, rules: TableRules, action: str, caller: str, label: str = "main") -> bool | None:
    """True: must succeed; False: must be refused; None: not asserted."""
    if caller in ("anon", "dead key"):
        return False
    if rules.special == "houses" and action == "insert":
        return caller in USERS
    if rules.special == "houses" and action == "soft delete":
        return caller == "owner"
    if rules.special == "members" and action != "select" and action != "insert":
        return None
    want = expected(replace(rules, special=None), action, MATRIX_NAME.get(caller, caller))
    if want is not None or caller not in ("agent key", "house key"):
        return want
    access = rules.agent_key if caller == "agent key" else rules.house_key
    mine = caller == "agent key" and world.names_agent(rules, label)
    if action == "select":
        return any(scope == "house" or (scope == "agent" and mine)
                   or (scope == "house_wide" and world.has_no_parent(rules, label)) for scope in access.read)
    if action == "insert":
        return caller == "agent key" and access.insert and rules.agent_column is not None
    column = "deleted_at" if action == "soft delete" else action.removeprefix("update ")
    return column in access.update and mine
