"""No credential-looking column in a synced table.

What: a column of a synced table whose name has a part like token, hash,
secret, password, salt, credential or ciphertext (``token_hash``,
``api_secret``, ``private_key``) — the same test ``arbedb verify``'s Electric
check (ELE030) applies to the live publication.

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

from ...verify.electric import looks_like_credential

CODE = "ARB009"
TITLE = "credential-columns"
SCOPE = "schema"


def check(ctx):
    for table in ctx.synced_tables():
        for column in table.columns.values():
            if looks_like_credential(column.name):
                yield column.where.finding(
                    CODE, f"synced table {table.name} has credential-looking column {column.name}",
                    "move it to a table in arbe_private reached through a SECURITY DEFINER function "
                    "(or rename it if it holds no credential)", obj=f"{table.name}.{column.name}")
