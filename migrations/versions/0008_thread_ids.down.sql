-- 0008 downgrade: the registry goes; thread ids may again be re-used across houses
-- after a hard delete. The trigger that fills it (triggers/27_thread_ids.sql) goes
-- first, since it names the table.
-- Electric: no synced table changes.

DROP TRIGGER IF EXISTS threads_register_id ON public.threads;
DROP FUNCTION IF EXISTS arbe.register_thread_id();
DROP TABLE arbe_private.thread_ids;
