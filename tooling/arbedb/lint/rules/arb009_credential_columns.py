"""No credential-looking column in a synced table.

What: a column of a synced table whose name has a part like token, hash,
secret, password, salt or credential (``token_hash``, ``api_secret``), or a
``value``/``ciphertext`` column of a table named for credentials (secrets,
api_keys).

Why: a synced table is streamed, every column, to every member's browser.
Credential material lives in ``arbe_private`` and is reached only through the
SECURITY DEFINER functions.

Bad::

    ALTER TABLE public.invites ADD COLUMN token_hash bytea;

Good::

    CREATE TABLE arbe_private.invite_tokens (
        invite_id uuid PRIMARY KEY REFERENCES public.invites (id) ON DELETE CASCADE,
        token_hash bytea NOT NULL
    );
"""

CODE = "ARB009"
TITLE = "credential-columns"
SCOPE = "schema"

CREDENTIAL_PARTS = {"token", "hash", "hashed", "secret", "password", "passwd", "salt", "credential", "pepper",
                    "apikey", "privatekey"}
MATERIAL = {"value", "ciphertext", "plaintext", "key"}


def _parts(name: str) -> set[str]:
    words = [w[:-1] if w.endswith("s") and len(w) > 3 else w for w in name.lower().split("_")]
    return set(words) | {a + b for a, b in zip(words, words[1:])}


def is_credential(table_name: str, column: str) -> bool:
    if column.endswith("_id"):
        return False  # a reference to a row, not material
    if _parts(column) & CREDENTIAL_PARTS:
        return True
    return column.lower() in MATERIAL and bool(_parts(table_name) & (CREDENTIAL_PARTS | {"apikey"}))


def check(ctx):
    for name in sorted(ctx.synced):
        table = ctx.schema.tables.get(name)
        for column in (table.columns.values() if table else ()):
            if is_credential(table.short, column.name):
                yield column.where.finding(
                    CODE, f"synced table {name} has credential-looking column {column.name}",
                    "move it to a table in arbe_private reached through a SECURITY DEFINER function "
                    "(or rename it if it holds no credential)", obj=f"{name}.{column.name}")
