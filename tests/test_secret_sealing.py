"""Sealing's costs and side channels: linear time and a size limit; pgcrypto's C
functions and the sha256() construction giving the same bytes; and no key,
raw or derived, nor any value in the server log or a temp file, however loudly
a superuser logs (policies/52_secrets.sql; docs/decisions.md, "Secrets at rest")."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from contextlib import contextmanager

import psycopg
import pytest
from psycopg import errors
from test_secrets_at_rest import (_hex_key, _new_key_file, _server, _unseal_in_python, as_admin, house, read_secret,
                                  server_settings, vault_only)

__all__ = ["house"]  # a fixture, used by name


# ---------------------------------------------------------------- size and time

LIMIT = 65536


def _sealed_count(conn) -> int:
    return conn.execute("SELECT count(*) FROM arbe_private.secret_values").fetchone()[0]


def test_a_value_over_the_size_limit_is_refused_in_one_line_and_nothing_is_written(arbedb_conn, house):
    as_admin(arbedb_conn, house, "SELECT arbe.set_secret(%s, %s)", house["secret"], "é" * (LIMIT // 2))  # bytes, not chars
    assert read_secret(arbedb_conn, house["secret"]) == "é" * (LIMIT // 2)
    with pytest.raises(errors.StringDataRightTruncation) as refused:
        as_admin(arbedb_conn, house, "SELECT arbe.set_secret(%s, %s)", house["secret"], "é" * (LIMIT // 2) + "x")
    arbedb_conn.rollback()
    assert refused.value.diag.message_primary == (
        f"secret {house['secret']} is not set: its value is {LIMIT + 1} bytes, "
        f"and the most a secret value may hold is {LIMIT} bytes")
    assert read_secret(arbedb_conn, house["secret"]) == "é" * (LIMIT // 2)  # the old value stands


def _seal_seconds(conn, size: int) -> float:
    """The key path's whole seal (keystream, XOR, tag) of `size` bytes, best of three."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        conn.execute("SELECT arbe_private.seal_with('\\x0102030405060708', sha256('k'), gen_random_uuid()::text::bytea, "
                     "gen_random_uuid(), convert_to(repeat('v', %s), 'UTF8'))", (size,))
        best = min(best, time.perf_counter() - started)
    return best


def test_sealing_time_grows_linearly_with_the_value(arbedb_conn):
    """16x the bytes cost about 16x the time (a quadratic construction: 256x). The
    bound is loose for a shared machine; bench/secret_sealing.py has the figures."""
    small, large = _seal_seconds(arbedb_conn, 16384), _seal_seconds(arbedb_conn, 262144)
    assert large / small < 48, f"16 KiB {small:.3f}s, 256 KiB {large:.3f}s"


# ---------------------------------------------------------------- pgcrypto and sha256()

def _has_pgcrypto(conn) -> bool:
    return conn.execute("SELECT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'pgcrypto')").fetchone()[0]


@contextmanager
def primitives(conn, which: str):
    """Seal with pgcrypto's C functions (installed in schema extensions, as on
    Supabase) or with the sha256() construction; the choice is made per call."""
    if which == "pgcrypto":
        if not _has_pgcrypto(conn):
            pytest.skip("this server has no pgcrypto")
        conn.execute("CREATE SCHEMA IF NOT EXISTS extensions; CREATE EXTENSION pgcrypto SCHEMA extensions")
    assert conn.execute("SELECT arbe_private.pgcrypto_schema()").fetchone() == (
        "extensions" if which == "pgcrypto" else None,)
    conn.commit()
    try:
        yield
    finally:
        conn.rollback()
        conn.execute("DROP EXTENSION IF EXISTS pgcrypto")
        conn.commit()


SEAL_INPUTS = [(secrets.token_bytes(8), secrets.token_bytes(32), secrets.token_bytes(16), uuid.uuid4(),
                secrets.token_bytes(n)) for n in (0, 1, 31, 32, 33, 1000, LIMIT)]


def _seal_all(conn) -> list[bytes]:
    return [bytes(conn.execute("SELECT arbe_private.seal_with(%s, %s, %s, %s, %s)", args).fetchone()[0])
            for args in SEAL_INPUTS]


def test_pgcrypto_and_the_sha256_construction_seal_the_same_bytes(arbedb_conn):
    keys = [secrets.token_bytes(n) for n in (0, 32, 64, 65, 200)]
    with primitives(arbedb_conn, "pgcrypto"):
        with_pgcrypto = _seal_all(arbedb_conn)
        prf_pgcrypto = [bytes(arbedb_conn.execute("SELECT arbe_private.prf(%s, 'm', 'extensions')", (k,)).fetchone()[0])
                        for k in keys]
        nonces = {bytes(arbedb_conn.execute("SELECT arbe_private.random_nonce()").fetchone()[0]) for _ in range(20)}
        assert len(nonces) == 20 and {len(n) for n in nonces} == {16}
    with_sha256 = _seal_all(arbedb_conn)
    assert with_pgcrypto == with_sha256
    assert prf_pgcrypto == [hmac.new(k, b"m", hashlib.sha256).digest() for k in keys]
    for (key_id, key, nonce, secret_id, plain), sealed in zip(SEAL_INPUTS, with_sha256):
        assert sealed[1:9] == key_id and sealed[9:25] == nonce
        assert _unseal_in_python(key, secret_id, sealed, check_key_id=False).encode("latin-1") == plain


@pytest.mark.parametrize("which", ["sha256", "pgcrypto"])
def test_either_primitive_seals_set_secret_values_python_can_open(arbedb_conn, house, which):
    with primitives(arbedb_conn, which):
        as_admin(arbedb_conn, house, "SELECT arbe.set_secret(%s, 'opened by python')", house["secret"])
        sealed = bytes(arbedb_conn.execute("SELECT sealed FROM arbe_private.secret_values").fetchone()[0])
        assert _unseal_in_python(_hex_key(arbedb_conn), house["secret"], sealed) == "opened by python"
        nonces = {bytes(arbedb_conn.execute("SELECT arbe_private.random_nonce()").fetchone()[0]) for _ in range(20)}
        assert len(nonces) == 20 and {len(n) for n in nonces} == {16}


# ---------------------------------------------------------------- the server log and temp files

LOUDEST_LOGGING = ["SET log_statement = 'all'", "SET log_min_duration_statement = 0", "SET log_temp_files = 0",
                   "SET log_min_messages = 'log'", "SET log_parameter_max_length = -1", "SET work_mem = '64kB'",
                   "LOAD 'auto_explain'", "SET auto_explain.log_min_duration = 0",
                   "SET auto_explain.log_nested_statements = on", "SET auto_explain.log_verbose = on",
                   "SET auto_explain.log_analyze = on", "SET auto_explain.log_buffers = on",
                   "SET auto_explain.log_triggers = on"]


def _loudest_logging(conn) -> None:
    try:
        for sql in LOUDEST_LOGGING:
            conn.execute(sql)
    except psycopg.errors.UndefinedFile:
        conn.rollback()
        pytest.skip("this server has no auto_explain")
    if conn.execute("SELECT current_setting('auto_explain.log_parameter_max_length', true)").fetchone()[0]:
        conn.execute("SET auto_explain.log_parameter_max_length = -1")  # 16+
    conn.commit()


def _key_material(key: bytes) -> dict[str, bytes]:
    """The key file's key and every key derived from it, in each form a log could show."""
    def prf(k, m):
        return hmac.new(k, m, hashlib.sha256).digest()
    enc, mac = prf(key, b"arbe secret enc"), prf(key, b"arbe secret mac")
    keys = {"key": key, "encryption key": enc, "MAC key": mac, "MAC inner pad": bytes(b ^ 0x36 for b in mac.ljust(64, b"\0")),
            "encryption key's outer pad": bytes(b ^ 0x5c for b in enc.ljust(64, b"\0"))}
    return {f"{name} ({form})": text for name, k in keys.items()
            for form, text in (("hex", k.hex().encode()), ("base64", base64.b64encode(k)))}


@pytest.mark.parametrize("which", ["sha256", "pgcrypto"])
def test_no_key_material_or_plaintext_reaches_the_server_log_or_a_temp_file(arbedb_cluster, arbedb_conn, house, which):
    """Whatever logging a superuser turns on, the log holds no key, raw or derived,
    and the value appears at most in the caller's own statement (here not even
    there: the server draws it, so any occurrence is a leak)."""
    server = _server(arbedb_cluster)
    with primitives(arbedb_conn, which):
        _loudest_logging(arbedb_conn)
        start = server.log_file.stat().st_size
        value_sql = "repeat(md5(random()::text), 1000)"
        as_admin(arbedb_conn, house, f"SELECT arbe.set_secret(%s, {value_sql})", house["secret"])  # inserts
        as_admin(arbedb_conn, house, f"SELECT arbe.set_secret(%s, {value_sql})", house["secret"])  # updates
        value = read_secret(arbedb_conn, house["secret"])
        old_key, new_key = _hex_key(arbedb_conn), _new_key_file(server, f"log-{secrets.token_hex(3)}.key")
        try:
            with server_settings(arbedb_cluster, arbedb_conn, secret_key_file=new_key,
                                 secret_previous_key_file=server.secret_key_file):
                assert arbedb_conn.execute("SELECT arbe_private.reseal_secrets()").fetchone() == (1,)
                arbedb_conn.commit()
                assert read_secret(arbedb_conn, house["secret"]) == value
                keys = _key_material(old_key) | {f"new {k}": v for k, v in _key_material(
                    bytes.fromhex(new_key.read_text().strip())).items()}
                as_admin(arbedb_conn, house, "SELECT arbe.set_secret(%s, 'x')", house["secret"])  # cache warm: generic plans
        finally:
            new_key.unlink()
        log = server.log_file.read_bytes()[start:]
    # Control: nested statements were logged with their plans and verbose output.
    assert b"arbe_private.secret_values" in log and b"Output:" in log and b"secret_keys" in log
    assert _log_leaks(server, log, value, keys) == []


def _log_leaks(server, log: bytes, value: str, keys: dict[str, bytes]) -> list[str]:
    leaks = [what for what, text in keys.items() if text in log]
    leaks += [f"value ({form})" for form, text in (("raw", value[:32].encode()), ("hex", value[:32].encode().hex().encode()))
              if text in log]
    leaks += ["a temporary file logged"] * (b"temporary file" in log)
    return leaks + [f"temp file {p.name}" for p in (server.data / "base" / "pgsql_tmp").glob("*")]


def test_a_value_kept_in_vault_reaches_no_server_log(arbedb_cluster, arbedb_conn, house):
    """The Vault path too: Vault's create_secret and update_secret statements run
    under this project's functions, whose generic plans they inherit."""
    server = _server(arbedb_cluster)
    with vault_only(arbedb_cluster, arbedb_conn):
        _loudest_logging(arbedb_conn)
        start = server.log_file.stat().st_size
        for _ in range(2):  # creates the entry, then updates it
            as_admin(arbedb_conn, house, "SELECT arbe.set_secret(%s, repeat(md5(random()::text), 10))", house["secret"])
        value = read_secret(arbedb_conn, house["secret"])
        log = server.log_file.read_bytes()[start:]
    assert b"vault.update_secret" in log and b"UPDATE vault.secrets" in log  # control: Vault's statements logged
    assert _log_leaks(server, log, value, {}) == []
