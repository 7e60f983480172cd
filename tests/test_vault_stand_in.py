"""The Supabase Vault stand-in (tests/supabase/25_vault_stand_in.sql) keeps the
facts of supabase_vault 0.3.1 that the project's Vault path depends on, and that
path works as `postgres` with exactly the rights a hosted project gives it."""

from __future__ import annotations

import secrets

import psycopg
import pytest
from test_secrets_at_rest import Decoder

from arbedb.testing.impersonate import acting_as, as_service, user_claims
from arbedb.testing.world import WorldBuilder

pytest_plugins = ["supabase_fixture"]

FUNCTIONS = ("create_secret(text, text, text, uuid)", "update_secret(uuid, text, text, text, uuid)",
             "_crypto_aead_det_decrypt(bytea, bytea, bigint, bytea, bytea)")


def _superuser_dsn(dsn: str) -> str:
    return psycopg.conninfo.make_conninfo(dsn, user="supabase_admin")


def test_the_stand_in_has_vaults_rights_and_shape(supabase_dsn):
    with psycopg.connect(supabase_dsn) as conn:
        one = lambda q, *a: conn.execute(q, a).fetchone()  # noqa: E731
        for role, table_rights in (("postgres", ("SELECT", "DELETE", "TRUNCATE", "REFERENCES")),
                                   ("service_role", ("SELECT", "DELETE"))):
            grant = " WITH GRANT OPTION" if role == "postgres" else ""
            assert one("SELECT has_schema_privilege(%s, 'vault', 'USAGE' || %s)", role, grant) == (True,)
            for rel in ("vault.secrets", "vault.decrypted_secrets"):
                for right in table_rights:
                    assert one("SELECT has_table_privilege(%s, %s, %s)", role, rel, right + grant) == (True,), (role, rel, right)
                for right in ("INSERT", "UPDATE"):
                    assert one("SELECT has_table_privilege(%s, 'vault.secrets', %s)", role, right) == (False,)
            for fn in FUNCTIONS:
                assert one("SELECT has_function_privilege(%s, %s, 'EXECUTE' || %s)", role, f"vault.{fn}", grant) == (True,)
        assert one("SELECT has_function_privilege('authenticated', 'vault.create_secret(text, text, text, uuid)', "
                   "'EXECUTE')") == (False,)
        for fn in FUNCTIONS[:2]:
            assert one("SELECT prosecdef, pg_get_userbyid(proowner), proconfig FROM pg_proc WHERE oid = %s::regprocedure",
                       f"vault.{fn}") == (True, "supabase_admin", ['search_path=""'])
        assert one("SELECT indisunique, pg_get_expr(indpred, indrelid) FROM pg_index "
                   "WHERE indexrelid = 'vault.secrets_name_idx'::regclass") == (True, "(name IS NOT NULL)")
        assert one("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'vault' "
                   "AND table_name = 'secrets' AND column_name = 'nonce'") == (1,)
        # update_secret of an unknown id does nothing, and says nothing.
        assert one("SELECT vault.update_secret(gen_random_uuid(), 'x')") == ("",)
        # Ciphertext is bound to its row: copied to another, it fails to decrypt.
        a, b = one("SELECT vault.create_secret('a')")[0], one("SELECT vault.create_secret('b')")[0]
        conn.commit()
        with psycopg.connect(_superuser_dsn(supabase_dsn)) as admin:
            admin.execute("UPDATE vault.secrets SET secret = (SELECT secret FROM vault.secrets WHERE id = %s) "
                          "WHERE id = %s", (a, b))
        with pytest.raises(psycopg.errors.RaiseException, match="invalid"):
            one("SELECT decrypted_secret FROM vault.decrypted_secrets WHERE id = %s", b)


def test_vault_create_secret_writes_its_value_to_the_wal_and_ours_does_not(supabase_applied_dsn):
    """create_secret inserts the value in clear before encrypting it (the stand-in
    keeps that); set_secret creates the entry empty, then sets it."""
    with psycopg.connect(supabase_applied_dsn) as conn:
        w = WorldBuilder(conn)
        admin = w.user("a@example.com")
        secret = w.row("secrets", w.house("Acme", created_by=admin))
        conn.commit()
        decoder = Decoder(_superuser_dsn(supabase_applied_dsn), "test_decoding")  # postgres has REPLICATION too
        try:
            value, canary = f"s3cr3t-{secrets.token_hex(8)}", f"canary-{secrets.token_hex(8)}"
            conn.execute("SELECT vault.create_secret(%s)", (canary,))
            with acting_as(conn, "authenticated", user_claims(admin, "a@example.com"), keep=True) as cur:
                cur.execute("SELECT * FROM public.set_secret(secret_id := %s, value := %s)", (secret, value))
            conn.commit()
            decoded = decoder.read()
            assert canary.encode() in decoded and value.encode() not in decoded
            with as_service(conn) as cur:
                assert cur.execute("SELECT arbe.read_secret(%s)", (secret,)).fetchone() == (value,)
        finally:
            decoder.close()
