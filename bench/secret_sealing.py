"""What sealing secret values costs, measured side by side.

    .venv/bin/python bench/secret_sealing.py [--calls 300] [--repeat 9] [--before-max 262144]

``arbe.read_secret`` (unseal: read the key file, check the HMAC tag, decrypt)
against a plaintext twin running the same join over the same rows; and the
sealing write (``arbe_private.store_secret``) against a plaintext upsert.
``--calls`` calls per run in one server-side loop (as service_role for reads),
runs interleaved, median of ``--repeat``, for a short and a 1 KiB value. Needs
the embedded server (it has a key file), so no --dsn.

Then seconds per value size (16 KiB, 256 KiB, 1 MiB: past set_secret's 64 KiB
limit, to show the growth) for the sealing core (keystream, XOR, tag) and the
opening one (tag, keystream, XOR), before and now side by side: "before" is the
set_byte construction as commit ``BEFORE`` had it, loaded from git into a schema of
its own; "now" runs with the sha256() construction and, where the server has
pgcrypto, with its C functions. Best of three for "now"; one run for "before"
(minutes at 1 MiB: ``--before-max`` skips it above that size).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

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


BEFORE = "d9e4e07"  # the last commit whose sealing XORs with a set_byte loop
OLD_FUNCTIONS = ("xor_bytes", "hmac_sha256", "secret_keystream", "secret_tag")
SIZES = (16384, 262144, 1048576)
# The same composition for both constructions; {s} is the schema holding its functions.
CORE = {
    "seal": "SELECT length(h || c || {s}.secret_tag(%(k)s, %(id)s, h, c)) FROM (SELECT '\\x01'::bytea || %(n)s AS h, "
            "{xor}(%(p)s, {s}.secret_keystream(%(k)s, %(n)s, length(%(p)s))) AS c OFFSET 0) AS x",  # once
    "open": "SELECT {s}.secret_tag(%(k)s, %(id)s, '\\x01'::bytea || %(n)s, %(p)s) IS NOT NULL, "
            "length({xor}(%(p)s, {s}.secret_keystream(%(k)s, %(n)s, length(%(p)s))))",
}


def load_before(conn) -> None:
    """The old construction's functions, from git, in schema bench_before."""
    text = subprocess.run(["git", "show", f"{BEFORE}:policies/52_secrets.sql"], capture_output=True, text=True,
                          check=True, cwd=Path(__file__).parent).stdout
    conn.execute("CREATE SCHEMA bench_before")
    for name in OLD_FUNCTIONS:
        body = re.search(rf"CREATE OR REPLACE FUNCTION arbe_private\.{name}\(.*?\n\$\$;\n", text, re.S).group(0)
        conn.execute(body.replace("arbe_private.", "bench_before."))


def core_seconds(conn, op: str, schema: str, size: int) -> float:
    xor = "bench_before.xor_bytes" if schema == "bench_before" else "arbe_private.xor_bits"
    args = dict(k=b"k" * 32, id="00000000-0000-4000-8000-000000000000", n=b"\x00" * 16, p=b"v" * size)
    started = time.perf_counter()
    conn.execute(CORE[op].format(s=schema, xor=xor), args)
    return time.perf_counter() - started


def run_sizes(dsn: str, before_max: int) -> None:
    table = Table(title="seconds per value, before (set_byte loop, one run) and now (best of 3)")
    for col in ("operation", "size", "before", "now (sha256())", "before / now", "now (pgcrypto)", "before / now"):
        table.add_column(col, justify="right")
    with psycopg.connect(dsn, autocommit=True) as conn:
        load_before(conn)
        has_pgcrypto = conn.execute("SELECT EXISTS (SELECT FROM pg_available_extensions "
                                    "WHERE name = 'pgcrypto')").fetchone()[0]
        for op in CORE:
            for size in SIZES:
                before = core_seconds(conn, op, "bench_before", size) if size <= before_max else None
                now = min(core_seconds(conn, op, "arbe_private", size) for _ in range(3))
                crypto = None
                if has_pgcrypto:
                    conn.execute("CREATE SCHEMA IF NOT EXISTS extensions; CREATE EXTENSION pgcrypto SCHEMA extensions")
                    crypto = min(core_seconds(conn, op, "arbe_private", size) for _ in range(3))
                    conn.execute("DROP EXTENSION pgcrypto")
                table.add_row(op, f"{size // 1024} KiB", "-" if before is None else f"{before:.3f}", f"{now:.3f}",
                              "-" if before is None else f"{before / now:.0f}",
                              "-" if crypto is None else f"{crypto:.3f}",
                              "-" if before is None or crypto is None else f"{before / crypto:.0f}")
    Console(width=120).print(table)


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
    parser.add_argument("--before-max", type=int, default=262144, help="largest size the old construction runs")
    args = parser.parse_args()
    with migrated_database(None) as dsn:
        run(dsn, args.calls, args.repeat)
        run_sizes(dsn, args.before_max)
    return 0


if __name__ == "__main__":
    sys.exit(main())
