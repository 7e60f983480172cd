"""A policy calls ``auth.uid()``, ``auth.jwt()`` and the membership helpers once per statement.

What: in a policy's USING or WITH CHECK, a call to a function outside
pg_catalog (``auth.uid()``, ``arbe.caller_house_ids('member')``) or to
``current_setting`` whose arguments read no column of the row must sit inside a
sub-select: ``(SELECT auth.uid())``, ``ARRAY(SELECT arbe.caller_house_ids())``.
A helper that takes the row's own column (``arbe.created_house_has_members(id)``) is
per row by nature and is not reported.

Why: a bare call is evaluated for every row the scan visits; wrapped in an
uncorrelated sub-select PostgreSQL runs it once (an InitPlan) and can use the
``house_id`` index. On a large table that is the difference between one
function call and one per row.

Bad::

    CREATE POLICY threads_select ON public.threads FOR SELECT TO authenticated
    USING (created_by = auth.uid());

Good::

    CREATE POLICY threads_select ON public.threads FOR SELECT TO authenticated
    USING (created_by = (SELECT auth.uid()));
"""

from pglast import ast

from ..model import Where
from ..nodes import column_refs, func_call_name

CODE = "ARB012"
TITLE = "policy-initplan"
SCOPE = "schema"

ALWAYS = {"current_setting", "pg_catalog.current_setting"}


def per_statement(call: ast.FuncCall) -> bool:
    name = func_call_name(call)
    user_function = "." in name and not name.startswith("pg_catalog.")
    return (user_function or name in ALWAYS) and not column_refs(call.args)


def bare_calls(node, inside_subselect: bool = False):
    """FuncCalls under ``node`` that are not inside any sub-select."""
    if isinstance(node, ast.SubLink):
        return
    if isinstance(node, (tuple, list)):
        for item in node:
            yield from bare_calls(item)
        return
    if not isinstance(node, ast.Node):
        return
    if isinstance(node, ast.FuncCall) and per_statement(node):
        yield node
        return
    for attr in type(node).__slots__:
        yield from bare_calls(getattr(node, attr))


def check(ctx):
    for policy in ctx.schema.policies.values():
        for clause, expr in (("USING", policy.using), ("WITH CHECK", policy.check)):
            for call in bare_calls(expr):
                name = func_call_name(call)
                where = Where(**policy.parsed.locate(call.location)) if call.location is not None else policy.where
                yield where.finding(
                    CODE, f"policy {policy.name} on {policy.table} calls {name}() per row in its {clause}",
                    f"wrap it in a sub-select: `(SELECT {name}(...))`, or `ARRAY(SELECT {name}(...))` "
                    "for a set", obj=f"policy {policy.name} on {policy.table}")
