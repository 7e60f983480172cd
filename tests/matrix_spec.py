"""SPEC §5 as data: for each (table, command) the kinds of caller the matrix allows.

Written from the SPEC's text, not from the database: tests compare `arbedb matrix`
(found by executing) with it.
"""

from __future__ import annotations

MEMBERS = {"member", "admin", "owner"}
ADMINS = {"admin", "owner"}
SERVICE = {"service_role"}
ANY_SIGNED_IN = {"non-member"} | MEMBERS
# SPEC §5b: API keys of the house. The sample thread and config are the agent key's agent's.
AGENT_KEY = {"agent key"}
KEYS = {"agent key", "house key"}

# Hard DELETE: service_role only (no authenticated DELETE anywhere). An "update <column>"
# probe writes another valid value (matrix/probe.py), as a caller changing it would.
SPEC_5: dict[tuple[str, str], set[str]] = {
    ("houses", "select"): MEMBERS | KEYS | SERVICE,
    ("houses", "insert"): ANY_SIGNED_IN | SERVICE,
    ("houses", "update name"): ADMINS | SERVICE,
    ("houses", "soft delete"): {"owner"} | SERVICE,
    ("houses", "delete"): SERVICE,
    ("members", "select"): MEMBERS | SERVICE,
    ("members", "insert"): SERVICE,
    ("members", "update role"): ADMINS | SERVICE,
    ("members", "soft delete"): ADMINS | SERVICE,  # removing a non-owner
    ("members", "delete"): SERVICE,
    ("members", "promote a member to admin"): ADMINS | SERVICE,
    ("members", "grant owner"): {"owner"} | SERVICE,
    ("members", "leave (own membership)"): {"member", "admin"},  # the owner here is the last one
    ("members", "remove the last owner"): set(),  # whoever is writing
    ("threads", "select"): MEMBERS | AGENT_KEY | SERVICE,
    ("threads", "insert"): MEMBERS | AGENT_KEY | SERVICE,
    # The update probe writes a different value (an unchanged one proves nothing): kind is not the key's.
    ("threads", "update kind"): MEMBERS | SERVICE,
    ("threads", "set status"): MEMBERS | AGENT_KEY | SERVICE,
    ("threads", "set kind"): MEMBERS | SERVICE,
    ("threads", "soft delete"): MEMBERS | SERVICE,
    ("threads", "delete"): SERVICE,
    ("invites", "select"): ADMINS | SERVICE,
    ("invites", "insert"): SERVICE,
    ("invites", "create via arbe.create_invite"): ADMINS,
    ("invites", "update email"): set(),  # immutable for every role (docs/decisions.md): only revoking is theirs
    ("invites", "soft delete"): ADMINS | SERVICE,
    ("invites", "delete"): SERVICE,
    ("api_keys", "select"): ADMINS | SERVICE,
    ("api_keys", "insert"): SERVICE,
    ("api_keys", "create via arbe.create_api_key"): ADMINS,
    ("api_keys", "update name"): SERVICE,
    ("api_keys", "revoke (revoked_at)"): ADMINS | SERVICE,
    ("api_keys", "soft delete"): ADMINS | SERVICE,
    ("api_keys", "delete"): SERVICE,
    ("secrets", "set value via arbe.set_secret"): ADMINS,
    ("secrets", "read value via arbe.read_secret"): SERVICE,
}
for _table, _column in [("agents", "name"), ("environments", "name"), ("configs", "key"), ("secrets", "name")]:
    SPEC_5.update({
        (_table, "select"): MEMBERS | SERVICE | ({"configs": AGENT_KEY, "agents": KEYS, "environments": KEYS}
                                                 .get(_table, set())),
        (_table, "insert"): ADMINS | SERVICE,
        (_table, f"update {_column}"): ADMINS | SERVICE,
        (_table, "soft delete"): ADMINS | SERVICE,
        (_table, "delete"): SERVICE,
    })


def differences(found: dict[tuple[str, str], set[str]], expected=SPEC_5) -> list[str]:
    lines = []
    for key in sorted(set(found) | set(expected)):
        got, want = found.get(key), expected.get(key)
        if got != want:
            lines.append(f"{key[0]} {key[1]}: database allows {sorted(got) if got is not None else 'no such row'}, "
                         f"SPEC §5 {sorted(want) if want is not None else 'says nothing'}")
    return lines
