"""Many probes (a statement run as some caller and always undone) in one round trip.

    probes = Probes(conn)            # inside an open transaction
    probes.add("authenticated", user_claims(alice), "UPDATE public.threads SET status = 'done'", then=check)
    probes.run()                     # check(outcome) for each probe, in the order added

Each probe runs as a probe ran when it was a savepoint, the identity and the
statement in one simple query, then the rollback in another (two round trips
each): in its own subtransaction, the role and claims set transaction-locally
inside it, the statement's text bound on the client, and everything it did
(identity included) undone afterwards, error or not. Only the driving moves to
the server: one call of a PL/pgSQL loop (a temporary function, made once per
transaction) runs them all, each in a BEGIN … EXCEPTION block, which is a
savepoint and its rollback. Refusals caught there are not written to the server
log either, as a refused top-level probe's ERROR and STATEMENT lines were.

Probes are independent (each sees the state the batch started from), so a batch
answers exactly what the same probes one by one would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from psycopg import ClientCursor

from .impersonate import raw_claims

FUNCTION = "pg_temp.arbedb_probes"

# A probe that succeeds raises UNDONE to roll its block back; any other error
# is the statement's own and is reported.
UNDONE = "ZX001"
CREATE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}(probes json,
    OUT error_code text, OUT error_message text, OUT row_count bigint, OUT value text)
RETURNS SETOF record LANGUAGE plpgsql AS $probes$
DECLARE
    p record;
BEGIN
    FOR p IN SELECT e.p ->> 'role' AS role, e.p ->> 'claims' AS claims, e.p ->> 'statement' AS statement,
                    (e.p ->> 'returns_value')::boolean AS returns_value
               FROM json_array_elements(probes) WITH ORDINALITY AS e (p, n) ORDER BY e.n
    LOOP
        error_code := NULL; error_message := NULL; row_count := NULL; value := NULL;
        BEGIN
            PERFORM set_config('role', p.role, true), set_config('request.jwt.claims', p.claims, true);
            IF p.returns_value THEN
                EXECUTE p.statement INTO value;
            ELSE
                EXECUTE p.statement;
            END IF;
            GET DIAGNOSTICS row_count = ROW_COUNT;
            RAISE EXCEPTION USING ERRCODE = '{UNDONE}';
        EXCEPTION
            WHEN SQLSTATE '{UNDONE}' THEN NULL;
            WHEN OTHERS THEN GET STACKED DIAGNOSTICS error_code = RETURNED_SQLSTATE, error_message = MESSAGE_TEXT;
        END;
        RETURN NEXT;
    END LOOP;
END
$probes$"""


@dataclass(frozen=True)
class Outcome:
    error_code: str | None  # the SQLSTATE the statement failed with; None: it ran (and was undone)
    error_message: str | None
    row_count: int | None  # rows the statement processed, when it ran
    value: str | None  # its first column, as text, for a probe added with returns_value


def install(conn) -> None:
    """Make the probe loop for the rest of ``conn``'s transaction (it goes with it)."""
    conn.execute(CREATE_FUNCTION)


class Probes:
    def __init__(self, conn):
        self.conn = conn
        self._binder = ClientCursor(conn)  # binds parameters into the text, on the client
        self._pending: list[tuple[dict, object]] = []

    def add(self, role: str, claims: dict | str | None, statement, params=(), *, returns_value: bool = False,
            then) -> None:
        """Queue ``statement`` as ``role`` with ``claims`` (a dict, a raw string, or
        None for no claims at all); ``then(outcome)`` is called when the batch runs."""
        text = self._binder.mogrify(statement, params or None)
        self._pending.append(({"role": role, "claims": raw_claims(claims), "statement": text,
                               "returns_value": returns_value}, then))

    def run(self) -> None:
        """Run every queued probe (one round trip), then each ``then``, in order.
        An exception from one ``then`` stops the rest; the batch is empty after."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        # One JSON document, not four arrays: the driver quotes array elements one
        # by one in Python, json.dumps does it all in C.
        probes = json.dumps([p for p, _ in pending])
        rows = self.conn.execute(f"SELECT * FROM {FUNCTION}(%s::json)", (probes,)).fetchall()
        for (_, then), row in zip(pending, rows, strict=True):
            then(Outcome(*row))
