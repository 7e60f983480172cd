"""Credential material at rest: nothing a caller hands the database in clear, or
is handed back once, can be read below SQL — not by a REPLICATION role decoding
the WAL with its own slot, not from the data files pg_basebackup copies.

Secret values are sealed (policies/52_secrets.sql) under a key the database
never holds; invite tokens and API keys are kept only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import uuid
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

from arbedb.testing.impersonate import as_service, set_identity, user_claims
from arbedb.testing.world import WorldBuilder


def _server(cluster):
    if cluster._server is None:
        pytest.skip("needs the embedded server: it reads the key file and the data directory")
    return cluster._server


@pytest.fixture
def house(arbedb_conn):
    w = WorldBuilder(arbedb_conn)
    admin = w.user("a@example.com")
    h = w.house("Acme", created_by=admin)
    secret = w.row("secrets", h, environment_id=w.row("environments", h))
    arbedb_conn.commit()
    return dict(admin=admin, h=h, secret=secret)


def as_admin(conn, house, sql, *params):
    with conn.cursor() as cur:
        set_identity(cur, "authenticated", user_claims(house["admin"], "a@example.com"))
        row = cur.execute(sql, params).fetchone()
    conn.commit()
    return row


def read_secret(conn, secret):
    with as_service(conn) as cur:
        return cur.execute("SELECT arbe.read_secret(%s)", (secret,)).fetchone()[0]


# ---------------------------------------------------------------- the WAL

class Decoder:
    """A logical slot on one database decoding *every* table, as a REPLICATION role
    could make for itself: test_decoding where the server has it, else pgoutput
    with a FOR ALL TABLES publication (the bundled PostgreSQL 18 has no
    test_decoding)."""

    def __init__(self, dsn: str, plugin: str):
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.plugin, self.slot = plugin, f"wal_probe_{os.getpid()}_{secrets.token_hex(3)}"
        if plugin == "pgoutput":
            self.conn.execute(f"CREATE PUBLICATION {self.slot} FOR ALL TABLES")
        try:
            self.conn.execute("SELECT pg_create_logical_replication_slot(%s, %s, true)", (self.slot, plugin))
        except psycopg.errors.UndefinedFile:
            self.conn.close()
            pytest.skip(f"this server has no {plugin} output plugin")

    def read(self) -> bytes:
        with self.conn.transaction():  # flush: test servers commit asynchronously
            self.conn.execute("SET LOCAL synchronous_commit = on")
            self.conn.execute("SELECT pg_logical_emit_message(true, 'wal_probe', '')")
        if self.plugin == "pgoutput":
            rows = self.conn.execute("SELECT data FROM pg_logical_slot_get_binary_changes(%s, NULL, NULL, "
                                     "'proto_version', '1', 'publication_names', %s)", (self.slot, self.slot))
        else:
            rows = self.conn.execute("SELECT convert_to(data, 'UTF8') FROM pg_logical_slot_get_changes(%s, NULL, NULL)",
                                     (self.slot,))
        return b"\n".join(bytes(r[0]) for r in rows)

    def close(self) -> None:
        if self.plugin == "pgoutput":
            self.conn.execute(f"DROP PUBLICATION {self.slot}")
        self.conn.close()


def _forms(text: str) -> list[bytes]:
    """How a value could show in decoded changes or data files: raw, or as bytea hex."""
    raw = text.encode()
    return [raw, raw.hex().encode()]


def _leaks(blob: bytes, plaintexts: dict[str, str]) -> list[str]:
    return [what for what, text in plaintexts.items() if any(form in blob for form in _forms(text))]


@pytest.mark.parametrize("plugin", ["test_decoding", "pgoutput"])
def test_no_secret_value_token_or_key_in_decoded_wal(arbedb_conn, arbedb_dsn, house, plugin):
    decoder = Decoder(arbedb_dsn, plugin)
    try:
        canary = f"canary-{secrets.token_hex(8)}"
        value = f"s3cr3t-{secrets.token_hex(8)}"
        as_admin(arbedb_conn, house, "SELECT arbe.set_secret(%s, %s)", house["secret"], value)
        as_admin(arbedb_conn, house, "SELECT arbe.set_secret(%s, %s)", house["secret"], value + "-rotated")
        token = as_admin(arbedb_conn, house, "SELECT arbe.create_invite(%s, 'n@example.com', 'member')", house["h"])[0]
        key = as_admin(arbedb_conn, house, "SELECT arbe.create_api_key(%s, NULL, 'ci')", house["h"])[0]
        # Control: the decoder does see arbe_private, bytea included (else "absent" proves nothing).
        arbedb_conn.execute("UPDATE arbe_private.invite_tokens SET token_hash = sha256(%s::bytea)", (canary.encode(),))
        arbedb_conn.execute("INSERT INTO public.configs (house_id, key, value) VALUES (%s, %s, '1')", (house["h"], canary))
        arbedb_conn.commit()
        decoded = decoder.read()
        assert canary.encode() in decoded and hashlib.sha256(canary.encode()).hexdigest().encode() in decoded
        assert read_secret(arbedb_conn, house["secret"]) == value + "-rotated"
        assert _leaks(decoded, {"secret value": value, "invite token": token, "API key": key,
                                "key file": _key_text(arbedb_conn)}) == []
    finally:
        decoder.close()


def _key_text(conn) -> str:
    path = conn.execute("SELECT setting FROM pg_file_settings WHERE name = 'arbedb.secret_key_file' "
                        "AND applied").fetchone()[0]
    return conn.execute("SELECT btrim(pg_read_file(%s), E' \\n')", (path,)).fetchone()[0]


def test_no_secret_value_in_the_data_files_or_the_catalog(arbedb_cluster, arbedb_conn, house):
    """What pg_basebackup as a REPLICATION role copies: the data directory. The key
    lives beside it, never inside it, and nowhere in the database."""
    server = _server(arbedb_cluster)
    value = f"s3cr3t-{secrets.token_hex(8)}"
    as_admin(arbedb_conn, house, "SELECT arbe.set_secret(%s, %s)", house["secret"], value)
    arbedb_conn.execute("CHECKPOINT")
    key = _key_text(arbedb_conn)
    assert server.data not in server.secret_key_file.parents
    found = [p for p in server.data.rglob("*") if p.is_file() and p.stat().st_size < 2**28
             and _leaks(p.read_bytes(), {"value": value, "key": key})]
    assert found == []
    assert arbedb_conn.execute("SELECT count(*) FROM pg_db_role_setting WHERE array_to_string(setconfig, ' ') "
                               "LIKE '%%' || %s || '%%'", (key,)).fetchone() == (0,)


# ---------------------------------------------------------------- the construction

def _hex_key(conn) -> bytes:
    return bytes.fromhex(_key_text(conn))


def _unseal_in_python(key: bytes, secret_id: uuid.UUID, sealed: bytes, check_key_id: bool = True) -> str:
    """The format of policies/52_secrets.sql, written independently with Python's hmac.
    (Latin-1 when the test sealed raw bytes rather than UTF-8 text.)"""
    def prf(k, m):
        return hmac.new(k, m, hashlib.sha256).digest()
    head, ciphertext, tag = sealed[:25], sealed[25:-32], sealed[-32:]
    assert head[0] == 1 and (not check_key_id or head[1:9] == prf(key, b"arbe secret key id")[:8])
    mac_key, enc_key = prf(key, b"arbe secret mac"), prf(key, b"arbe secret enc")
    assert hmac.compare_digest(tag, prf(mac_key, head + secret_id.bytes + ciphertext))
    stream = b"".join(prf(enc_key, head[9:] + i.to_bytes(4, "big")) for i in range(len(ciphertext) // 32 + 1))
    plain = bytes(c ^ s for c, s in zip(ciphertext, stream))
    return plain.decode() if check_key_id else plain.decode("latin-1")


@pytest.mark.parametrize("value", ["x", "exactly thirty-two bytes long!!!", "ünïcödé " * 20, ""])
def test_sealed_value_is_hmac_sha256_ctr_with_a_tag_bound_to_its_secret(arbedb_conn, house, value):
    as_admin(arbedb_conn, house, "SELECT arbe.set_secret(%s, %s)", house["secret"], value)
    sealed = bytes(arbedb_conn.execute("SELECT sealed FROM arbe_private.secret_values").fetchone()[0])
    assert len(sealed) == 1 + 8 + 16 + len(value.encode()) + 32
    assert _unseal_in_python(_hex_key(arbedb_conn), house["secret"], sealed) == value
    assert read_secret(arbedb_conn, house["secret"]) == value
    # A fresh nonce each time: the same value never seals the same way twice.
    as_admin(arbedb_conn, house, "SELECT arbe.set_secret(%s, %s)", house["secret"], value)
    assert bytes(arbedb_conn.execute("SELECT sealed FROM arbe_private.secret_values").fetchone()[0]) != sealed


@pytest.mark.parametrize("key_len", [0, 32, 64, 65, 200])
def test_hmac_sha256_matches_pythons(arbedb_conn, key_len):
    key, message = secrets.token_bytes(key_len), secrets.token_bytes(100)
    got = arbedb_conn.execute("SELECT arbe_private.hmac_sha256(%s, %s)", (key, message)).fetchone()[0]
    assert bytes(got) == hmac.new(key, message, hashlib.sha256).digest()


def test_a_tampered_or_moved_sealed_value_is_refused(arbedb_conn, house):
    as_admin(arbedb_conn, house, "SELECT arbe.set_secret(%s, 'value-one')", house["secret"])
    other = WorldBuilder(arbedb_conn).row("secrets", house["h"])
    arbedb_conn.execute("INSERT INTO arbe_private.secret_values (secret_id, sealed) "
                        "SELECT %s, sealed FROM arbe_private.secret_values", (other,))
    arbedb_conn.commit()
    with pytest.raises(errors.DataCorrupted, match="integrity"):
        read_secret(arbedb_conn, other)  # another secret's sealed value, copied over
    # Flip every bit of one byte: overwriting it with a constant left the blob unchanged
    # whenever that byte already held the constant (1 run in 256: a flaky pass of the tamper).
    arbedb_conn.execute("UPDATE arbe_private.secret_values SET sealed = set_byte(sealed, 29, get_byte(sealed, 29) # 255) "
                        "WHERE secret_id = %s", (house["secret"],))
    arbedb_conn.commit()
    with pytest.raises(errors.DataCorrupted, match="integrity"):
        read_secret(arbedb_conn, house["secret"])


def test_a_session_cannot_choose_the_key(arbedb_conn, house):
    """The key file is what the configuration files name: a SET is not consulted
    (else any caller could pick the key, or make the owner read other files)."""
    arbedb_conn.execute("SET arbedb.secret_key_file = '/etc/hostname'")
    as_admin(arbedb_conn, house, "SELECT arbe.set_secret(%s, 'chosen?')", house["secret"])
    sealed = bytes(arbedb_conn.execute("SELECT sealed FROM arbe_private.secret_values").fetchone()[0])
    arbedb_conn.execute("RESET arbedb.secret_key_file")
    assert _unseal_in_python(_hex_key(arbedb_conn), house["secret"], sealed) == "chosen?"


# ---------------------------------------------------------------- the key's lifecycle

@contextmanager
def server_settings(cluster, conn, **paths):
    """Point arbedb.secret_*key_file at other files via postgresql.auto.conf, undone afterwards."""
    with psycopg.connect(cluster.admin_dsn, autocommit=True) as admin:
        try:
            for name, path in paths.items():  # (ALTER SYSTEM needs the placeholder known to this session)
                admin.execute(f"SELECT set_config('arbedb.{name}', '', false)")
                admin.execute(f"ALTER SYSTEM SET arbedb.{name} = '{path}'")
            yield
        finally:
            for name in paths:
                admin.execute(f"ALTER SYSTEM RESET arbedb.{name}")


def _new_key_file(server, name: str) -> Path:
    path = server.home / name
    path.write_text(secrets.token_hex(32) + "\n")
    path.chmod(0o600)
    owner = server.secret_key_file.stat()
    os.chown(path, owner.st_uid, owner.st_gid)
    return path


def test_rotation_reseals_under_the_new_key_and_a_lost_key_loses_the_values(arbedb_cluster, arbedb_conn, house):
    server = _server(arbedb_cluster)
    as_admin(arbedb_conn, house, "SELECT arbe.set_secret(%s, 'before rotation')", house["secret"])
    new_key = _new_key_file(server, f"rotated-{secrets.token_hex(3)}.key")
    try:
        with server_settings(arbedb_cluster, arbedb_conn, secret_key_file=new_key,
                             secret_previous_key_file=server.secret_key_file):
            assert read_secret(arbedb_conn, house["secret"]) == "before rotation"  # old key still known
            assert arbedb_conn.execute("SELECT arbe_private.reseal_secrets()").fetchone() == (1,)
            assert arbedb_conn.execute("SELECT arbe_private.reseal_secrets()").fetchone() == (0,)
            arbedb_conn.commit()
        with server_settings(arbedb_cluster, arbedb_conn, secret_key_file=new_key):
            assert read_secret(arbedb_conn, house["secret"]) == "before rotation"  # the old key is no longer needed
        # Back on the original key, which never sealed this value: it is lost, and says so.
        with pytest.raises(errors.ObjectNotInPrerequisiteState, match="which the server does not have"):
            read_secret(arbedb_conn, house["secret"])
    finally:
        new_key.unlink()


def test_rotation_locks_one_batch_at_a_time_and_skips_rows_others_hold(arbedb_cluster, arbedb_conn, arbedb_dsn, house):
    """reseal_secrets never holds the whole table: each call locks at most its batch,
    a second rotation (or a set_secret) on other rows is not kept waiting, and rows
    another transaction holds are left for the next call."""
    server = _server(arbedb_cluster)
    w = WorldBuilder(arbedb_conn)
    ids = [house["secret"]] + [w.row("secrets", house["h"], name=f"s{i}") for i in range(3)]
    for i, secret in enumerate(ids):
        arbedb_conn.execute("SELECT arbe_private.store_secret(%s, %s)", (secret, f"value {i}"))
    arbedb_conn.commit()
    old_sealed = arbedb_conn.execute("SELECT sealed FROM arbe_private.secret_values WHERE secret_id = %s",
                                     (ids[0],)).fetchone()[0]
    new_key = _new_key_file(server, f"batch-{secrets.token_hex(3)}.key")
    try:
        with server_settings(arbedb_cluster, arbedb_conn, secret_key_file=new_key,
                             secret_previous_key_file=server.secret_key_file), \
                psycopg.connect(arbedb_dsn) as other:
            for conn in (arbedb_conn, other):
                conn.execute("SET lock_timeout = '2s'")  # a wait fails the test instead of hanging it
            held = other.execute("SELECT secret_id FROM arbe_private.secret_values WHERE secret_id = %s FOR UPDATE",
                                 (ids[3],)).fetchall()  # a writer busy with one row
            assert arbedb_conn.execute("SELECT arbe_private.reseal_secrets(2)").fetchone() == (2,)
            locked = {r[0] for r in arbedb_conn.execute(
                "SELECT secret_id FROM arbe_private.secret_values WHERE substr(sealed, 2, 8) = "
                "(SELECT key_id FROM arbe_private.secret_keys() WHERE current)")}
            assert len(locked) == 2 and ids[3] not in locked and held
            other.rollback()
            free = next(i for i in ids[:3] if i not in locked)
            other.execute("SET lock_timeout = '2s'")
            # The batch's rows are held; the rest of the table is not.
            assert other.execute("SELECT arbe_private.reseal_secrets()").fetchone() == (2,)  # skips the held two
            other.commit()
            assert free in {r[0] for r in other.execute("SELECT secret_id FROM arbe_private.secret_values "
                                                        "WHERE substr(sealed, 2, 8) = (SELECT key_id FROM "
                                                        "arbe_private.secret_keys() WHERE current)")}
            arbedb_conn.commit()
            # 0 means none left, not "the rest was busy": with every stale row held, it waits.
            arbedb_conn.execute("UPDATE arbe_private.secret_values SET sealed = %s WHERE secret_id = %s",
                                (old_sealed, ids[0]))  # the old-key value written back: stale again
            arbedb_conn.commit()
            other.execute("SELECT FROM arbe_private.secret_values WHERE secret_id = %s FOR UPDATE", (ids[0],))
            with pytest.raises(errors.LockNotAvailable):
                arbedb_conn.execute("SELECT arbe_private.reseal_secrets()")
            arbedb_conn.rollback()
            other.rollback()
            arbedb_conn.execute("SET lock_timeout = '2s'")
            assert arbedb_conn.execute("SELECT arbe_private.reseal_secrets()").fetchone() == (1,)
            assert arbedb_conn.execute("SELECT arbe_private.reseal_secrets()").fetchone() == (0,)
            arbedb_conn.commit()
        with server_settings(arbedb_cluster, arbedb_conn, secret_key_file=new_key):  # the new key alone
            assert [read_secret(arbedb_conn, s) for s in ids] == [f"value {i}" for i in range(4)]
    finally:
        new_key.unlink()


def test_a_key_file_inside_the_data_directory_is_refused(arbedb_cluster, arbedb_conn, house):
    """pg_basebackup (and every copy of data/) would carry it."""
    server = _server(arbedb_cluster)
    inside = server.data / "secret.key"
    inside.write_bytes(server.secret_key_file.read_bytes())
    try:
        with server_settings(arbedb_cluster, arbedb_conn, secret_key_file=inside):
            with pytest.raises(errors.InvalidParameterValue, match="outside the data directory"):
                as_admin(arbedb_conn, house, "SELECT arbe.set_secret(%s, 'x')", house["secret"])
    finally:
        inside.unlink()
    arbedb_conn.rollback()


def test_without_a_key_nobody_can_store_a_secret(arbedb_cluster, arbedb_conn, house):
    server = _server(arbedb_cluster)
    with server_settings(arbedb_cluster, arbedb_conn, secret_key_file=server.home / "no-such.key"):
        assert arbedb_conn.execute("SELECT arbe_private.secrets_sealable()").fetchone() == (False,)
        with pytest.raises(errors.UndefinedFile):
            as_admin(arbedb_conn, house, "SELECT arbe.set_secret(%s, 'x')", house["secret"])
    arbedb_conn.rollback()
    assert arbedb_conn.execute("SELECT arbe_private.secrets_sealable()").fetchone() == (True,)
    assert arbedb_conn.execute("SELECT count(*) FROM arbe_private.secret_values").fetchone() == (0,)


def test_revision_0004_never_writes_a_secret_in_clear_either_way(arbedb_project, empty_dsn):
    from arbedb import commands
    from arbedb.errors import ArbedbError

    commands.apply(arbedb_project, empty_dsn)
    with psycopg.connect(empty_dsn) as conn:
        w = WorldBuilder(conn)
        secret = w.row("secrets", w.house("Acme", created_by=w.user("a@example.com")))
        conn.execute("SELECT arbe_private.store_secret(%s, 'sealed one')", (secret,))
        conn.commit()
        with pytest.raises(ArbedbError, match="sealed secret value.*would have to write in clear"):
            commands.down(arbedb_project, empty_dsn, "0003")
        conn.execute("DELETE FROM arbe_private.secret_values")
        conn.commit()
        commands.down(arbedb_project, empty_dsn, "0003")
        conn.execute("INSERT INTO arbe_private.secret_values (secret_id, value) VALUES (%s, 'plain one')", (secret,))
        conn.commit()
        with pytest.raises(ArbedbError, match="plaintext secret value.*cannot seal"):
            commands.apply(arbedb_project, empty_dsn)
        assert conn.execute("SELECT value FROM arbe_private.secret_values").fetchone() == ("plain one",)


# Supabase Vault as supabase_vault 0.3.1 behaves, bar its cryptography (the stand-in's own comment).
VAULT_STAND_IN = Path(__file__).parent / "supabase" / "25_vault_stand_in.sql"


@contextmanager
def vault_only(cluster, conn):
    """The stand-in loaded, and no key file: Vault alone keeps the values."""
    server = _server(cluster)
    conn.execute(VAULT_STAND_IN.read_text())
    conn.commit()
    with server_settings(cluster, conn, secret_key_file=server.home / "no-such.key"):
        yield


def test_where_supabase_vault_exists_it_keeps_the_values(arbedb_cluster, arbedb_conn, house):
    with vault_only(arbedb_cluster, arbedb_conn):
        assert arbedb_conn.execute("SELECT arbe_private.secrets_sealable()").fetchone() == (True,)
        as_admin(arbedb_conn, house, "SELECT arbe.set_secret(%s, 'in the vault')", house["secret"])
        as_admin(arbedb_conn, house, "SELECT arbe.set_secret(%s, 'in the vault, again')", house["secret"])
        entries = arbedb_conn.execute("SELECT id, name, decrypted_secret FROM vault.decrypted_secrets").fetchall()
        # One entry, updated rather than added, holding the value bound to its secret.
        assert entries == [(entries[0][0], f"arbe_secret:{house['secret']}", f"{house['secret']}:in the vault, again")]
        sealed = bytes(arbedb_conn.execute("SELECT sealed FROM arbe_private.secret_values").fetchone()[0])
        assert sealed == b"\x02" + entries[0][0].bytes
        assert read_secret(arbedb_conn, house["secret"]) == "in the vault, again"
        arbedb_conn.execute("DELETE FROM vault.secrets")
        arbedb_conn.commit()
        with pytest.raises(errors.ObjectNotInPrerequisiteState, match="Vault, which has no entry"):
            read_secret(arbedb_conn, house["secret"])


def test_the_first_value_kept_in_vault_never_reaches_the_wal(arbedb_cluster, arbedb_conn, arbedb_dsn, house):
    """Vault's create_secret inserts its argument in clear, then encrypts it: the
    entry is created empty and then set with update_secret."""
    with vault_only(arbedb_cluster, arbedb_conn):
        decoder = Decoder(arbedb_dsn, "test_decoding")
        try:
            value, canary = f"s3cr3t-{secrets.token_hex(8)}", f"canary-{secrets.token_hex(8)}"
            as_admin(arbedb_conn, house, "SELECT arbe.set_secret(%s, %s)", house["secret"], value)
            arbedb_conn.execute("SELECT vault.create_secret(%s)", (canary,))  # control: Vault's own leak is seen
            arbedb_conn.commit()
            decoded = decoder.read()
            assert b"table vault.secrets: INSERT" in decoded and canary.encode() in decoded
            assert _leaks(decoded, {"value": value}) == []
            assert read_secret(arbedb_conn, house["secret"]) == value
        finally:
            decoder.close()


def test_a_vault_pointer_is_bound_to_its_secret(arbedb_cluster, arbedb_conn, house):
    other = WorldBuilder(arbedb_conn).row("secrets", house["h"])
    with vault_only(arbedb_cluster, arbedb_conn):
        as_admin(arbedb_conn, house, "SELECT arbe.set_secret(%s, 'first')", house["secret"])
        as_admin(arbedb_conn, house, "SELECT arbe.set_secret(%s, 'second')", other)
        swap = ("UPDATE arbe_private.secret_values AS v SET sealed = o.sealed FROM arbe_private.secret_values AS o "
                "WHERE o.secret_id <> v.secret_id")
        arbedb_conn.execute(swap)
        arbedb_conn.commit()
        for secret in (house["secret"], other):
            with pytest.raises(errors.DataCorrupted, match="integrity"):
                read_secret(arbedb_conn, secret)
        arbedb_conn.execute(swap)  # back in place
        arbedb_conn.commit()
        assert (read_secret(arbedb_conn, house["secret"]), read_secret(arbedb_conn, other)) == ("first", "second")
        # An entry written before the binding is tied by its name only, and read while that holds.
        arbedb_conn.execute("SELECT vault.update_secret(id, 'legacy') FROM vault.secrets WHERE name = %s",
                            (f"arbe_secret:{house['secret']}",))
        arbedb_conn.commit()
        assert read_secret(arbedb_conn, house["secret"]) == "legacy"
        arbedb_conn.execute("SELECT vault.update_secret(id, new_name => 'renamed') FROM vault.secrets WHERE name = %s",
                            (f"arbe_secret:{house['secret']}",))
        arbedb_conn.commit()
        with pytest.raises(errors.DataCorrupted, match="integrity"):
            read_secret(arbedb_conn, house["secret"])
