"""What `policies/permissions.toml` declares for the matrix's generic probes, so that
`arbedb matrix` shows, beside what the database does, where it departs from the declaration.

Only what the declaration decides by itself is judged: the generic commands (select,
insert, update of a column, soft delete, delete) of a table whose rules are all data. A
`special` table (houses, members and the credential tables) has rules that live in code and
in docs/model.md, and a cell whose answer depends on the sample row (a key reading rows "of
its agent") is not judged either: the property test (`arbedb rls-test`) covers both.
"""

from __future__ import annotations

from ..permissions import RANK, Permissions, TableRules

HUMANS = ("member", "admin", "owner")
NOBODY = ("anon", "non-member")


def _human(rules: TableRules, action: str, caller: str) -> bool | None:
    rank = RANK[caller]
    if action == "select":
        return rank >= RANK[rules.read]
    if action == "insert":
        return rules.insert == "direct" and rank >= RANK[rules.write]
    column = _column(action)
    if column is None:
        return None if action != "delete" else False  # no authenticated DELETE anywhere
    return (column not in rules.immutable and (rules.updatable is None or column in rules.updatable)
            and rank >= RANK[rules.write])


def _key(rules: TableRules, action: str, caller: str) -> bool | None:
    access = rules.agent_key if caller == "agent key" else rules.house_key
    if action == "select":
        if not access.read:
            return False
        return True if tuple(access.read) == ("house",) else None  # else: depends on the sample row's parents
    if action == "insert":
        return False if not access.insert else None
    if action == "delete":
        return False
    column = _column(action)
    return False if column is not None and column not in access.update else None


def _column(action: str) -> str | None:
    if action == "soft delete":
        return "deleted_at"
    return action.removeprefix("update ") if action.startswith("update ") else None


def expected(rules: TableRules, action: str, caller: str) -> bool | None:
    """True/False: what the declaration says this caller's command must do; None: not judged here."""
    if rules.special:
        return None
    if caller == "service_role":
        # Bypasses RLS; only immutables (house_id, created_by, ...) and DELETE's grant still hold.
        column = _column(action)
        return None if column is None and action not in ("select", "insert", "delete") else (
            column is None or column not in rules.immutable)
    if caller in NOBODY:
        return False
    if caller in HUMANS:
        return _human(rules, action, caller)
    return _key(rules, action, caller)


def departures(matrix, permissions: Permissions) -> list[str]:
    """One line per cell where the database does other than the declaration says, and one per
    house table the declarations do not name."""
    out, named = [], set(permissions.tables)
    for table in dict.fromkeys(probe.table for probe, _ in matrix.rows):
        if table not in named:
            out.append(f"{table}: no declaration in {permissions.source}; add one (docs/model.md §7)")
    for probe, cells in matrix.rows:
        rules = permissions.tables.get(probe.table)
        if rules is None:
            continue
        for caller, cell in cells.items():
            want = expected(rules, probe.action, caller)
            if want is not None and cell.allowed is not None and cell.allowed != want:
                out.append(f"{probe.table} {probe.action} as {caller}: the database says {cell.mark}, "
                           f"the declaration says {'yes' if want else 'no'}")
    return out
