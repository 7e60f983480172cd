"""The pieces every exported file is made of: literals, the file's frame, and who is acting.

A file is one transaction the way `supabase test db` runs them (``BEGIN; SELECT plan(n);
...; SELECT * FROM finish(); ROLLBACK;``), so nothing a test does outlives it. pgTAP is
created inside that transaction when the database lacks it, and rolled back with the rest.
"""

from __future__ import annotations

import json
import uuid

NOTE = ("-- Written by `arbedb export pgtap`; do not edit. Change the project and export again.\n"
        "-- Run with `supabase test db`, or `pg_prove -d <database> <this folder>/*.sql`.\n")


def literal(value) -> str:
    """A SQL literal for a value the declarations hold (text, numbers, booleans, uuids, null)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, uuid.UUID):
        return f"'{value}'::uuid"
    return "'" + str(value).replace("'", "''") + "'"


def quoted(statement: str) -> str:
    """``statement`` as a text argument to a pgTAP function (dollar-quoted: no doubling needed)."""
    assert "$q$" not in statement
    return f"$q${statement}$q$"


def identity(role: str, claims: dict) -> str:
    """Act as a caller the Supabase way, for the rest of the transaction or the next switch."""
    return (f"SET LOCAL ROLE {role};\n"
            f"SELECT set_config('request.jwt.claims', {literal(json.dumps(claims, sort_keys=True))}, true);\n")


SUPERUSER = "RESET ROLE;\nSELECT set_config('request.jwt.claims', NULL, true);\n"


def frame(title: str, body: str, assertions: int) -> str:
    """One test file: a transaction that plans ``assertions`` tests and is always rolled back."""
    return (f"-- arbedb pgTAP: {title}\n{NOTE}\n"
            "BEGIN;\n"
            "CREATE EXTENSION IF NOT EXISTS pgtap;\n"
            f"SELECT plan({assertions});\n\n"
            f"{body}\n"
            "SELECT * FROM finish();\n"
            "ROLLBACK;\n")
