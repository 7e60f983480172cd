"""The Data API path to the credential functions (policies/70_data_api.sql).

Supabase's Data API calls functions in its exposed schemas (``public`` by default),
so each credential function a signed-in user calls has a thin SECURITY INVOKER
wrapper there. For each one this checks, on the live database: the wrapper
exists with its ``arbe`` function's arguments and result; it adds no privilege
(SECURITY INVOKER); ``authenticated`` may execute both it and the ``arbe``
function behind it; and no one else who should not (PUBLIC, ``anon``,
``service_role``) may execute the wrapper.
"""

from __future__ import annotations

from ..findings import Finding

WRAPPED = ("create_invite", "lookup_invite", "accept_invite", "create_api_key", "set_secret")
SCHEMA = "public"
CALLER = "authenticated"
NOT_CALLERS = ("anon", "service_role")
FIX = "apply policies/70_data_api.sql (`arbedb apply --redeclare`), or wrap the function there like the others"

_QUERY = """
SELECT a.proname, 'arbe.' || a.proname || '(' || pg_get_function_identity_arguments(a.oid) || ')',
       %(schema)s || '.' || w.proname || '(' || pg_get_function_identity_arguments(w.oid) || ')',
       w.prosecdef, pg_get_function_result(w.oid) IS NOT DISTINCT FROM pg_get_function_result(a.oid),
       pg_get_function_arguments(w.oid) IS NOT DISTINCT FROM pg_get_function_arguments(a.oid),
       has_function_privilege(%(caller)s, a.oid, 'EXECUTE'),
       w.oid IS NOT NULL AND has_function_privilege(%(caller)s, w.oid, 'EXECUTE'),
       ARRAY(SELECT r FROM unnest(%(not_callers)s::text[]) r
             WHERE w.oid IS NOT NULL AND has_function_privilege(r, w.oid, 'EXECUTE')),
       w.oid IS NOT NULL AND EXISTS (SELECT FROM aclexplode(coalesce(w.proacl, acldefault('f', w.proowner))) x
                                     WHERE x.grantee = 0 AND x.privilege_type = 'EXECUTE')
FROM pg_proc a
LEFT JOIN pg_proc w ON w.proname = a.proname AND w.pronamespace = %(schema)s::regnamespace
                   AND w.proargtypes = a.proargtypes
WHERE a.pronamespace = 'arbe'::regnamespace AND a.proname = ANY(%(names)s)
ORDER BY 1"""


def checks(conn, project) -> list[Finding]:
    rows = conn.execute(_QUERY, {"caller": CALLER, "not_callers": list(NOT_CALLERS), "schema": SCHEMA,
                                 "names": list(WRAPPED)}).fetchall()
    findings = []
    missing = set(WRAPPED) - {r[0] for r in rows}
    for name in sorted(missing):
        findings.append(Finding("API001", f"arbe.{name} does not exist, so the Data API has nothing to call",
                                "apply the project (`arbedb apply`)", object=f"arbe.{name}"))
    for name, target, wrapper, definer, same_result, same_args, caller_arbe, caller_wrap, others, public in rows:
        where = wrapper or f"{SCHEMA}.{name}"
        if wrapper is None:
            findings.append(Finding("API001", f"no {SCHEMA}.{name} for {target}: the Data API (/rest/v1/rpc/{name}) "
                                    "cannot reach it", FIX, object=where))
            continue
        if definer:
            findings.append(Finding("API002", f"{wrapper} is SECURITY DEFINER: a wrapper must add no privilege",
                                    f"make it SECURITY INVOKER; {FIX}", object=where))
        if not (same_result and same_args):
            findings.append(Finding("API002", f"{wrapper} does not take the argument names or return what {target} "
                                    "does (RPC bodies name the arguments)", FIX, object=where))
        if not (caller_arbe and caller_wrap):
            findings.append(Finding("API003", f"{CALLER} may not execute {wrapper if not caller_wrap else target}",
                                    f"GRANT EXECUTE to {CALLER}; {FIX}", object=where))
        for role in [*others, *(["PUBLIC"] if public else [])]:
            findings.append(Finding("API004", f"{role} may execute {wrapper}, which only {CALLER} should call",
                                    f"REVOKE EXECUTE ON FUNCTION {wrapper} FROM {role}; {FIX}", object=where))
    return findings
