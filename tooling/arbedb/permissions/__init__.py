"""The per-table permission declarations (policies/permissions.toml by default): who reads and
writes each house table, what API keys may do, what never changes. Data in the project's
repository, read here once and passed to everything that needs the rules (rls-test, the
scaffold, lint, verify)."""

from .declarations import (KEY_SCOPES, RANK, ROLES, SPECIALS, KeyAccess, Permissions, TableRules, load_permissions,
                           parse_permissions, permissions_path)

__all__ = ["KEY_SCOPES", "RANK", "ROLES", "SPECIALS", "KeyAccess", "Permissions", "TableRules", "load_permissions",
           "parse_permissions", "permissions_path"]
