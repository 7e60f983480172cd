-- Defence in depth on the private schema (token hashes, key hashes, sealed
-- secret values). The first gate is privileges: no role but the owner holds any
-- on arbe_private or its tables (00_privileges.sql), and only the SECURITY
-- DEFINER credential functions, running as the owner, read or write them.
-- RLS with no policy at all is the second gate: should one stray GRANT ever
-- reach a caller role (anon, authenticated, service_role, electric), that role
-- still reads and writes zero rows. FORCE as on every public table: the owner is
-- subject too unless it bypasses RLS, which the definer path needs, as it does
-- for the public tables (the embedded server's superuser, Supabase's postgres
-- with BYPASSRLS).
ALTER TABLE arbe_private.invite_tokens ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE arbe_private.api_key_hashes ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE arbe_private.secret_values ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE arbe_private.thread_ids ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
