-- A thread id, once used, never names a thread of another house
-- (migrations/versions/0008_thread_ids.up.sql). Clients choose the ids of what they
-- insert (optimistic inserts carry them), so nothing stops an outsider from picking
-- the id of a thread service_role hard-deleted; but the thread's transcript lives in
-- a durable stream named by that id, outside the database, and would be served to
-- whoever the id names next.
--
-- AFTER INSERT, so the row's house_id is final (inherited by 20_house_id.sql) and the
-- primary key of threads has already refused a live duplicate. ON CONFLICT DO NOTHING
-- waits for a concurrent insert of the same id and then sees it; at REPEATABLE READ
-- and above it raises 40001 instead of reading past a registration its snapshot lacks.
-- Re-inserting an id in its own house (service_role restoring a hard-deleted thread)
-- is allowed. The refusal reads like the primary key's, so it tells a caller no more
-- than inserting a live id of another house already does: that the id was used.
-- SECURITY DEFINER: callers hold no privilege on arbe_private.
-- Once per statement, over the statement's inserted rows (its transition table):
-- one INSERT and one probe per statement instead of a function call, an INSERT
-- and a probe per row (63 ms of a 1,000-thread batch's 416, docs/performance.md).
-- The probe runs after the INSERT, in a new snapshot at READ COMMITTED, so it
-- sees the registration a conflicting insert waited for.
CREATE OR REPLACE FUNCTION arbe.register_thread_id() RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO arbe_private.thread_ids AS r (id, house_id)
    SELECT n.id, n.house_id FROM inserted AS n
    ON CONFLICT (id) DO NOTHING;
    IF EXISTS (
        SELECT FROM inserted AS n JOIN arbe_private.thread_ids AS r ON r.id = n.id
        WHERE r.house_id <> n.house_id
    ) THEN
        RAISE EXCEPTION 'duplicate key value violates unique constraint "threads_pkey"'
            USING ERRCODE = '23505', CONSTRAINT = 'threads_pkey';
    END IF;
    RETURN NULL;
END
$$;

REVOKE ALL ON FUNCTION arbe.register_thread_id() FROM PUBLIC, anon, authenticated, service_role;

CREATE OR REPLACE TRIGGER threads_register_id
AFTER INSERT ON public.threads
REFERENCING NEW TABLE AS inserted
FOR EACH STATEMENT EXECUTE FUNCTION arbe.register_thread_id();
