"""The structure file: RLS enabled and forced on every declared table, each table's
policies with their command and roles, and which functions each API role may execute.

What to expect is read from the project's own SQL (the lint's model of policies/,
triggers/ and the revisions), not from a database: the export needs none, and a policy
or grant changed in the database but not in the repository turns the test red.
"""

from __future__ import annotations

from ..permissions import Permissions
from .tap import frame, literal

API_ROLES = ("anon", "authenticated", "service_role")
# Functions these schemas hold belong to Supabase (or to pgTAP itself), not to the project.
FOREIGN_SCHEMAS = {"auth", "extensions", "storage", "graphql", "graphql_public", "realtime", "vault",
                   "pg_catalog", "information_schema"}


def _array(items) -> str:
    return "ARRAY[" + ", ".join(literal(i) for i in items) + "]::text[]"


def table_tests(schema, name: str) -> list[str]:
    relation = f"public.{name}"
    tests = [f"SELECT ok(coalesce((SELECT {flag} FROM pg_catalog.pg_class WHERE oid = to_regclass("
             f"{literal(relation)})), false), {literal(f'{relation}: row level security {what}')});"
             for flag, what in (("relrowsecurity", "enabled"), ("relforcerowsecurity", "forced"))]
    policies = sorted(schema.policies_on(relation), key=lambda p: p.name)
    tests.append(f"SELECT policies_are('public', {literal(name)}, {_array(p.name for p in policies)}, "
                 f"{literal(f'{relation}: exactly the policies of the repository')});")
    for policy in policies:
        tests.append(f"SELECT policy_cmd_is('public', {literal(name)}, {literal(policy.name)}, "
                     f"{literal(policy.command.upper())}, {literal(f'{relation}: {policy.name} is for {policy.command.upper()}')});")
        tests.append(f"SELECT policy_roles_are('public', {literal(name)}, {literal(policy.name)}, "
                     f"{_array(sorted(policy.roles))}, {literal(f'{relation}: {policy.name} applies to ' + ', '.join(sorted(policy.roles)))});")
    return tests


def function_tests(schema) -> list[str]:
    tests = []
    for function in sorted(schema.functions.values(), key=lambda f: f.signature):
        namespace, bare = function.name.split(".", 1)
        if namespace in FOREIGN_SCHEMAS:
            continue
        for role in API_ROLES:
            privileges = ["EXECUTE"] if {role, "public"} & function.execute else []
            tests.append(f"SELECT function_privs_are({literal(namespace)}, {literal(bare)}, "
                         f"{_array(function.args)}, {literal(role)}, {_array(privileges)}, "
                         f"{literal(f'{role} may' + ('' if privileges else ' not') + f' execute {function.signature}')});")
    return tests


def structure_file(schema, permissions: Permissions) -> tuple[str, int]:
    tests = [t for name in permissions.names for t in table_tests(schema, name)] + function_tests(schema)
    return frame("structure: row level security, policies, function privileges", "\n".join(tests) + "\n",
                 len(tests)), len(tests)
