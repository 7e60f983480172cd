"""What no caller's view shows of the sealing (policies/52_secrets.sql): the bytes at rest.

A caller sees a secret value only through set_secret and read_secret, which
round-trip whatever the sealing does, and the property's at-rest check looks
only for the plaintext. So a nonce that repeats across seals (the keystream
then repeats: two blobs XOR to the two values), a tag that no longer binds the
blob to its row, or an unseal that stops checking the tag pass every caller's
view. This check seals and re-seals itself and looks at the stored bytes:

- every seal writes a fresh blob under a fresh nonce: set_secret twice with the
  same value, the same value in another secret, another value, and a re-seal
  (reseal_one, the row step of reseal_secrets) give five distinct blobs, five
  distinct nonces and, for the same value, distinct ciphertexts;
- the blob has the documented layout and does not hold the value;
- read_secret opens each to its value, and refuses (XX001, the integrity
  check) a blob copied to another secret, or with one byte of its nonce, its
  ciphertext or its tag flipped.

Run as the owner (the clone's superuser), in a transaction that is rolled back.
Where secrets are kept in Supabase Vault (blob format 0x02) the layout checks do
not apply and only the round trip and the refusals are checked.
"""

from __future__ import annotations

import psycopg

from ..testing.impersonate import AUTHENTICATED, SERVICE, acting_as, user_claims
from ..testing.world import WorldBuilder


class Unseen(AssertionError):
    """Something a caller's view cannot show is wrong (the message says what)."""


# function -> [(what the mutation does, text in its source, replacement)]: merged
# into mutants.FUNCTION_MUTATIONS' kind, each text expected exactly once.
MUTATIONS = {
    "random_nonce": [("one nonce for every seal", "BEGIN\n    IF via = 'extensions' THEN",
                      "BEGIN\n    RETURN pg_catalog.decode(pg_catalog.repeat('a5', 16), 'hex');\n"
                      "    IF via = 'extensions' THEN")],
    "seal_secret": [
        ("the nonce derived from the secret's id (repeats on every re-seal)",
         "arbe_private.random_nonce(), secret_id, plain)", "pg_catalog.uuid_send(secret_id), secret_id, plain)"),
        ("the nonce derived from the value (equal values seal alike)",
         "arbe_private.random_nonce(), secret_id, plain)",
         "pg_catalog.substr(pg_catalog.sha256(plain), 1, 16), secret_id, plain)"),
    ],
    "secret_keystream": [("the keystream ignores the nonce", "nonce || pg_catalog.int4send(i)",
                          "pg_catalog.int4send(i)")],
    "secret_tag": [
        ("the tag not bound to the secret's id", "head || pg_catalog.uuid_send(secret_id) || ciphertext",
         "head || ciphertext"),
        ("the tag leaves out the ciphertext", "head || pg_catalog.uuid_send(secret_id) || ciphertext",
         "head || pg_catalog.uuid_send(secret_id)"),
        ("the tag leaves out the nonce", "head || pg_catalog.uuid_send(secret_id) || ciphertext",
         "pg_catalog.uuid_send(secret_id) || ciphertext"),
    ],
    "seal_with": [("an 8-byte nonce", "'\\x01'::bytea || key_id || nonce;",
                   "'\\x01'::bytea || key_id || pg_catalog.substr(nonce, 1, 8);")],
    "unseal_secret": [("the tag is not checked", "IF arbe_private.secret_tag(k.key, secret_id, head, ciphertext)",
                       "IF false AND arbe_private.secret_tag(k.key, secret_id, head, ciphertext)")],
    "reseal_one": [("a re-seal reuses the row's nonce",
                    "arbe_private.seal_secret(secret_id, arbe_private.unseal_secret(secret_id, sealed))",
                    "arbe_private.seal_with((SELECT s.key_id FROM arbe_private.secret_keys() AS s WHERE s.current), "
                    "(SELECT s.key FROM arbe_private.secret_keys() AS s WHERE s.current), "
                    "pg_catalog.substr(sealed, 10, 16), secret_id, "
                    "pg_catalog.convert_to(arbe_private.unseal_secret(secret_id, sealed), 'UTF8'))")],
    "store_secret": [("a second set_secret keeps the first blob", "DO UPDATE SET sealed = excluded.sealed",
                      "DO UPDATE SET sealed = v.sealed")],
}

VALUE, OTHER = "sealing-view-value-1", "sealing-view-value-2"  # the same length: comparable ciphertexts
HEAD, TAG = 25, 32  # 0x01 | key id (8) | nonce (16) ... | tag (32)
INTEGRITY = "XX001"


def sealable(conn) -> bool:
    """Whether the server can seal at all (a key file, or Vault)."""
    with conn.transaction():
        return conn.execute("SELECT arbe_private.secrets_sealable()").fetchone()[0]


def check(conn) -> None:
    """Raise Unseen on the first thing wrong with the stored bytes; nothing stays."""
    with conn.transaction(force_rollback=True):
        if not sealable(conn):
            return  # nothing is sealed here (set_secret refuses everyone): the sealing mutants survive, and say so
        w = WorldBuilder(conn)
        owner = w.user()
        house = w.house("sealing", created_by=owner)
        one, two = w.row("secrets", house, name="one"), w.row("secrets", house, name="two")
        try:
            blobs = [_set(conn, owner, one, VALUE), _set(conn, owner, one, VALUE), _set(conn, owner, two, VALUE),
                     _set(conn, owner, two, OTHER)]
            with conn.transaction():
                conn.execute("SELECT arbe_private.reseal_one(%s, %s)", (one, blobs[1]))
        except psycopg.Error as exc:
            raise Unseen(f"set_secret or a re-seal failed: {exc.sqlstate} {str(exc).strip().splitlines()[0]}") from None
        blobs.append(_sealed(conn, one))
        for step in (_distinct_blobs, _layout, _distinct_nonces, _distinct_ciphertexts, _not_in_clear):
            step(blobs)
        _round_trip(conn, {one: VALUE, two: OTHER})
        _refused(conn, two, blobs[-1], "a blob copied from another secret")
        if blobs[-1][0] == 1:
            for what, at in (("nonce", 12), ("ciphertext", HEAD + 1), ("tag", len(blobs[-1]) - 1)):
                _refused(conn, one, _flip(blobs[-1], at), f"a blob with a byte of its {what} flipped")


# Five seals: set_secret twice with one value, the value in another secret, another value, a re-seal.
def _distinct_blobs(blobs: list[bytes]) -> None:
    if len(set(blobs)) < len(blobs):
        raise Unseen("a stored blob repeats across seals (set_secret twice, or a re-seal, wrote the same bytes)")


def _sealed_here(blobs: list[bytes]) -> bool:
    return all(b[0] == 1 for b in blobs)  # else kept in Vault: the row holds a pointer, Vault's encryption its own


def _layout(blobs: list[bytes]) -> None:
    if _sealed_here(blobs) and any(len(b) != HEAD + len(VALUE) + TAG for b in blobs):
        raise Unseen(f"a sealed blob is not 0x01 | key id | nonce | ciphertext | tag: lengths {sorted(map(len, blobs))}")


def _distinct_nonces(blobs: list[bytes]) -> None:
    nonces = [b[9:HEAD] for b in blobs]
    if _sealed_here(blobs) and len(set(nonces)) < len(nonces):
        raise Unseen("a nonce repeats across seals and re-seals: the keystream repeats, and two blobs XOR to "
                     "their two values")


def _distinct_ciphertexts(blobs: list[bytes]) -> None:
    """The same value under different nonces: different ciphertexts."""
    same_value = [b[HEAD:-TAG] for b in blobs[:3] + blobs[4:]]
    if _sealed_here(blobs) and len(set(same_value)) < len(same_value):
        raise Unseen("one value sealed under different nonces gave the same ciphertext: the keystream ignores "
                     "the nonce")


def _not_in_clear(blobs: list[bytes]) -> None:
    for value in (VALUE, OTHER):
        if any(value.encode() in b for b in blobs):
            raise Unseen(f"a sealed blob holds its value {value!r} in clear")


def _round_trip(conn, values: dict) -> None:
    for secret, value in values.items():
        got = _read(conn, secret)
        if got != value:
            raise Unseen(f"read_secret answered {got!r} for a secret set to {value!r}")


def _set(conn, owner, secret, value: str) -> bytes:
    with acting_as(conn, AUTHENTICATED, user_claims(owner), keep=True) as cur:
        cur.execute("SELECT arbe.set_secret(%s, %s)", (secret, value))
    return _sealed(conn, secret)


def _sealed(conn, secret) -> bytes:
    return bytes(conn.execute("SELECT sealed FROM arbe_private.secret_values WHERE secret_id = %s",
                              (secret,)).fetchone()[0])


def _read(conn, secret):
    with acting_as(conn, SERVICE, {"role": SERVICE}) as cur:
        return cur.execute("SELECT arbe.read_secret(%s)", (secret,)).fetchone()[0]


def _flip(blob: bytes, at: int) -> bytes:
    return blob[:at] + bytes([blob[at] ^ 0xFF]) + blob[at + 1:]  # every bit: never the byte it was


def _refused(conn, secret, blob: bytes, what: str) -> None:
    """``blob`` stored as ``secret``'s: read_secret must fail its integrity check."""
    try:
        with conn.transaction(force_rollback=True):
            conn.execute("UPDATE arbe_private.secret_values SET sealed = %s WHERE secret_id = %s", (blob, secret))
            got = _read(conn, secret)
    except psycopg.Error as exc:
        if exc.sqlstate == INTEGRITY:
            return
        raise Unseen(f"{what}: read_secret failed with {exc.sqlstate} ({str(exc).strip().splitlines()[0]}), "
                     f"not its integrity check ({INTEGRITY})") from None
    raise Unseen(f"{what}: read_secret opened it (to {got!r}) instead of failing its integrity check")
