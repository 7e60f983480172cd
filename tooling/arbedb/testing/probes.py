"""Many probes (a statement run as some caller and always undone), few round trips.

    with Probes(conn) as probes:     # inside an open transaction
        probes.add("authenticated", user_claims(alice), "UPDATE public.threads SET status = 'done'", then=check)
        ...
    # on leaving the block: check(outcome) for each probe, in the order added

Each probe runs as a probe ran when it was a savepoint, the identity and the
statement in one simple query, then the rollback in another (two round trips
each): in its own subtransaction, the role and claims set transaction-locally
inside it, the statement's text bound on the client, and everything it did
(identity included) undone afterwards, error or not. Only the driving moves to
the server: a PL/pgSQL loop (a temporary function, made once per transaction)
runs a chunk of them per call, each in a BEGIN … EXCEPTION block, which is a
savepoint and its rollback. Refusals caught there are not written to the server
log either, as a refused top-level probe's ERROR and STATEMENT lines were.

Probes are independent (each sees the state the batch started from), so a batch
answers exactly what the same probes one by one would. For the same reason a probe
queued again in the same batch (same role, claims and statement: the sweep reaches
some rows and callers by more than one path) is run once, and its outcome judged
at every place it was queued.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from psycopg import ClientCursor, errors

from ..errors import ArbedbError
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
                    (e.p ->> 'returns_value')::boolean AS returns_value, coalesce((e.p ->> 'keep')::boolean, false) AS keep
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
            IF p.keep THEN  -- a write that stays: only the caller's identity is undone
                PERFORM set_config('role', 'none', true), set_config('request.jwt.claims', '', true);
            ELSE
                RAISE EXCEPTION USING ERRCODE = '{UNDONE}';
            END IF;
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
    """Make the probe loop for the rest of ``conn``'s transaction (it goes with it).
    A temporary function: the connecting role needs TEMP on the database (PUBLIC
    has it by default, Supabase's postgres too)."""
    try:
        with conn.transaction():
            conn.execute(CREATE_FUNCTION)
    except errors.InsufficientPrivilege:
        db, role = conn.execute("SELECT current_database(), current_user").fetchone()
        raise ArbedbError(f"the probes run in a temporary function and role {role} may not create temporary objects "
                          f"in {db}; GRANT TEMPORARY ON DATABASE {db} TO {role}, or point --dsn at a role that may") from None


def kept(conn, role: str, claims: dict | str | None, statement, params=(), *, returns_value: bool = False):
    """(statement, params) that run ``statement`` as ``role`` with ``claims`` through the
    probe loop, kept when it succeeds (like a released savepoint: the caller's identity
    reset, the write staying) and undone when it fails; it answers one Outcome's
    columns either way. What ``acting_as(keep=True)`` does in five round trips, as one
    statement that can travel in a pipeline (an error does not abort it)."""
    text = ClientCursor(conn).mogrify(statement, params or None)
    return f"SELECT * FROM {FUNCTION}(%s::json)", (json.dumps([{
        "role": role, "claims": raw_claims(claims), "statement": text, "returns_value": returns_value, "keep": True}]),)


class Probes:
    """A batch of probes. Used as a context manager, it runs what is still
    queued on a clean exit and discards it on an error.

    Queued probes go to the server in chunks as they come (a psycopg pipeline:
    sent, not waited for), so the server runs one chunk while the next is being
    put together; ``run`` collects every answer and judges them in order."""

    CHUNK = 64

    def __init__(self, conn):
        self.conn = conn
        self._binder = ClientCursor(conn)  # binds parameters into the text, on the client
        self._pending: list[dict] = []  # probes not sent yet
        self._pipeline = None
        self._sent: list[tuple[object, int]] = []  # (cursor awaiting the answers, how many)
        self._queued: dict[tuple, tuple[int, int]] = {}  # probe -> (chunk, row) it runs as
        self._thens: list[tuple[object, tuple[int, int]]] = []  # in the order queued

    def __enter__(self) -> Probes:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.run()
        else:
            self._forget()
            self._close_pipeline(exc_type, exc, tb)

    def _forget(self) -> None:
        self._pending, self._sent, self._queued, self._thens = [], [], {}, []

    def add(self, role: str, claims: dict | str | None, statement, params=(), *, returns_value: bool = False,
            then) -> None:
        """Queue ``statement`` as ``role`` with ``claims`` (a dict, a raw string, or
        None for no claims at all); ``then(outcome)`` is called when the batch runs.
        Until then, the connection is the batch's: use it for nothing else."""
        text = self._binder.mogrify(statement, params or None)
        key = (role, raw_claims(claims), text, returns_value)
        at = self._queued.get(key)
        if at is None:
            at = self._queued[key] = (len(self._sent), len(self._pending))
            self._pending.append({"role": role, "claims": key[1], "statement": text, "returns_value": returns_value})
            if len(self._pending) >= self.CHUNK:
                self._send()
        self._thens.append((then, at))

    def _send(self) -> None:
        if self._pipeline is None:
            self._pipeline = self.conn.pipeline()
            self._pipeline.__enter__()
        pending, self._pending = self._pending, []
        # One JSON document, not arrays: the driver quotes array elements one by
        # one in Python, json.dumps does it all in C.
        cur = self.conn.cursor()
        cur.execute(f"SELECT * FROM {FUNCTION}(%s::json)", (json.dumps(pending),))
        self._sent.append((cur, len(pending)))

    def _close_pipeline(self, *exc_info) -> None:
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None:
            pipeline.__exit__(*exc_info)  # waits for every answer

    def run(self) -> None:
        """Run every queued probe, then each ``then``, in the order queued. An
        exception from one ``then`` stops the rest; the batch is empty after."""
        if self._pending:
            self._send()
        self._close_pipeline(None, None, None)
        sent, thens = self._sent, self._thens
        self._forget()
        answers = []
        for cur, count in sent:
            rows = cur.fetchall()
            if len(rows) != count:
                raise AssertionError(f"the probe loop answered {len(rows)} of {count} probes")
            answers.append([Outcome(*row) for row in rows])
        for then, (chunk, row) in thens:
            then(answers[chunk][row])
