"""What the platform brings before the project's first migration, known as a set.

A Supabase project has roles and schemas of its own (its services', its dashboard's,
its pooler's); `arbedb verify` judges only the project's, and reports findings about
these apart (summary "platform"), never as the project's errors. The API roles
(`anon`, `authenticated`, `service_role`) are not here: the project's policies and
grants are what decide what they may do, so they are judged like the project's own.

Sources: supabase/postgres (migrations/db/init-scripts, migrations/db/migrations,
ansible/files/pgbouncer_config, the pgsodium/vault extensions), supabase/auth,
supabase/realtime and the Supabase CLI (`supabase_migrations`); docs/supabase.md.
"""

from __future__ import annotations

ROLES = frozenset({
    "postgres",  # the migrating role: CREATEROLE, BYPASSRLS, member of the API roles (by design)
    "supabase_admin", "supabase_auth_admin", "supabase_storage_admin", "supabase_realtime_admin",
    "supabase_replication_admin", "supabase_read_only_user", "supabase_functions_admin", "supabase_etl_admin",
    "supabase_privileged_role", "supabase_superuser", "dashboard_user", "pgbouncer", "authenticator",
    "pgsodium_keyholder", "pgsodium_keyiduser", "pgsodium_keymaker",
})

SCHEMAS = frozenset({
    "auth", "storage", "realtime", "_realtime", "extensions", "graphql", "graphql_public", "pgbouncer",
    "pgsodium", "pgsodium_masks", "vault", "supabase_functions", "supabase_migrations", "cron", "net",
    "_analytics", "_supavisor",
})

SEVERITY = "platform"  # a Finding about the platform's own objects: reported apart, never an error


def summary(findings) -> list[str]:
    """One short entry per platform finding, for the report's summary."""
    return [f"{f.object} ({f.code})" for f in findings]
