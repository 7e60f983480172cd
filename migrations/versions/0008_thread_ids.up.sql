-- 0008: every thread id ever used, with its house (issue: a hard-deleted thread's id
-- re-used by an outsider in their own house made arbe.can_access_thread answer true for
-- it, and the old transcript's durable stream `arbe-thread-{id}` is named by the id).
-- Rows are never deleted: the registry is what outlives a hard delete. Only thread ids
-- name something outside the database, so only threads are registered
-- (docs/decisions.md, "Ids").
-- Electric: no synced table changes (arbe_private is never published).

CREATE TABLE arbe_private.thread_ids (
    id uuid PRIMARY KEY,
    house_id uuid NOT NULL
);

INSERT INTO arbe_private.thread_ids (id, house_id)
SELECT
    t.id,
    t.house_id
FROM public.threads AS t;
