-- arbe.txid() (model §5): the id of the calling transaction as the 32-bit xid the
-- replication stream carries in its BEGIN message, which is what TanStack DB's
-- awaitTxId waits for. pg_current_xact_id() is the 64-bit xid8 (epoch << 32 |
-- xid); the ::xid cast keeps the low 32 bits, the ones on the wire. VOLATILE:
-- calling it assigns an xid to a transaction that has none yet.
CREATE OR REPLACE FUNCTION arbe.txid() RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.pg_current_xact_id()::xid::text::bigint
$$;

REVOKE ALL ON FUNCTION arbe.txid() FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION arbe.txid() TO authenticated, service_role;
