"""What sealing secret values costs, measured side by side.

    .venv/bin/python bench/secret_sealing.py [--calls 300] [--repeat 9]

``arbe.read_secret`` (unseal: read the key file, check the HMAC tag, decrypt)
against a plaintext twin running the same join over the same rows; and the
sealing write (``arbe_private.store_secret``) against a plaintext upsert.
``--calls`` calls per run in one server-side loop (as service_role for reads),
runs interleaved, median of ``--repeat``, for a short and a 1 KiB value. Needs
the embedded server (it has a key file), so no --dsn.
"""

from __future__ import annotations

import argparse
import sys
import time

import psycopg
from common import interleaved_medians, migrated_database  # also puts tooling/ on sys.path
from rich.console import Console
from rich.table import Table

from arbedb.testing.world import WorldBuilder

TWIN = """
CREATE TABLE arbe_private.plain_twin (secret_id uuid PRIMARY KEY, value text NOT NULL,
                                      updated_at timestamptz NOT NULL DEFAULT now());
CREATE FUNCTION arbe.read_plain_twin(secret_id uuid) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    RETURN (SELECT v.value FROM arbe_private.plain_twin AS v
            JOIN public.secrets AS s ON s.id = v.secret_id JOIN public.houses AS h ON h.id = s.house_id
            WHERE v.secret_id = read_plain_twin.secret_id AND s.deleted_at IS NULL AND h.deleted_at IS NULL);
END $$;
CREATE FUNCTION arbe_private.store_plain_twin(secret_id uuid, value text) RETURNS void
LANGUAGE sql SET search_path = '' AS $$
    INSERT INTO arbe_private.plain_twin AS v (secret_id, value) VALUES (secret_id, value)
    ON CONFLICT (secret_id) DO UPDATE SET value = excluded.value, updated_at = now()
$$;
GRANT EXECUTE ON FUNCTION arbe.read_plain_twin(uuid) TO service_role;
"""


def loop_seconds(conn, role: str | None, call: str, calls: int) -> float:
    body = f"DO $b$ BEGIN FOR i IN 1..{calls} LOOP PERFORM {call}; END LOOP; END $b$"
    with conn.transaction(force_rollback=True), conn.cursor() as cur:
        if role:
            cur.execute("SELECT set_config('role', %s, true)", (role,))
        started = time.perf_counter()
        cur.execute(body)
        return time.perf_counter() - started


def run(dsn: str, calls: int, repeat: int) -> None:
    table = Table(title=f"sealed / plaintext, {calls:,} calls per run, median of {repeat}")
    for col in ("operation", "value", "ratio", "µs per call: sealed / plaintext"):
        table.add_column(col, justify="right")
    with psycopg.connect(dsn) as conn:
        w = WorldBuilder(conn)
        secret = w.row("secrets", w.house("bench", created_by=w.user("o@example.com")))
        conn.execute(TWIN)
        for size in (32, 1024):
            value = "v" * size
            conn.execute("SELECT arbe_private.store_secret(%s, %s), arbe_private.store_plain_twin(%s, %s)",
                         (secret, value, secret, value))
            conn.commit()
            ops = [("read_secret", "service_role", f"arbe.read_secret('{secret}')", f"arbe.read_plain_twin('{secret}')"),
                   ("store", None, f"arbe_private.store_secret('{secret}', '{value}')",
                    f"arbe_private.store_plain_twin('{secret}', '{value}')")]
            for label, role, sealed, plain in ops:
                ma, mb = interleaved_medians(repeat, lambda: loop_seconds(conn, role, sealed, calls),
                                             lambda: loop_seconds(conn, role, plain, calls))
                table.add_row(label, f"{size} B", f"{ma / mb:.1f}",
                              f"{ma / calls * 1e6:.0f} / {mb / calls * 1e6:.0f}")
    Console(width=120).print(table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    with migrated_database(None) as dsn:
        run(dsn, args.calls, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
