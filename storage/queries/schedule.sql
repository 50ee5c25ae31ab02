-- Scheduled jobs coming due (see migrations/20261206000006_scheduled_jobs.sql).
-- Every replica runs the promoter on its own interval, apart from the
-- maintenance lock: rows are taken with SKIP LOCKED, so two promoters never
-- move one job and neither waits for the other.
-- Blocks are named as in users.sql, which says how to run them by hand.

-- name: promote_scheduled
-- Moves up to $1 scheduled jobs that are due to pending, the earliest due
-- first. Each takes its conversation's next position at this moment (jobs
-- of one conversation promoted together in due order), so it waits behind
-- the jobs enqueued before it came due; the counts and readiness follow
-- from the triggers on jobs, and the status change wakes waiting claims
-- (jobs_notify_status). A job whose row, or whose conversation's row,
-- another session holds is left for a later round; conversation rows are
-- locked in one order, as enqueues lock them. Returns how many moved.
WITH due AS (
  SELECT id, conversation, run_after FROM jobs
  WHERE status = 'scheduled' AND run_after <= now()
  ORDER BY run_after LIMIT $1
  FOR UPDATE SKIP LOCKED
), counts AS (
  SELECT conversation AS key, count(*) AS n FROM due
  WHERE conversation IS NOT NULL GROUP BY conversation
), made AS (
  INSERT INTO conversations AS c (conversation, last_position)
  SELECT key, n FROM counts ORDER BY key
  ON CONFLICT (conversation) DO NOTHING
  RETURNING c.conversation AS key, c.last_position AS last
), held AS (
  SELECT c.conversation AS key FROM conversations c
  WHERE c.conversation IN (SELECT key FROM counts)
  ORDER BY c.conversation
  FOR UPDATE SKIP LOCKED
), moved AS (
  UPDATE conversations c SET last_position = c.last_position
    + ((SELECT jsonb_object_agg(key, n) FROM counts) ->> c.conversation)::bigint
  FROM held WHERE c.conversation = held.key
  RETURNING c.conversation AS key, c.last_position AS last
), lasts AS (
  -- Each conversation's new last position, one map read by key: joins of
  -- these CTEs, estimated at a row each, were nested loops (1,000 jobs
  -- coming due at once: a million comparisons, 0.4 s a round).
  SELECT jsonb_object_agg(key, last) AS last FROM (
    SELECT key, last FROM made UNION ALL SELECT key, last FROM moved) l
), numbered AS (
  SELECT id, conversation,
    count(*) OVER (PARTITION BY conversation) AS n,
    row_number() OVER (PARTITION BY conversation
                       ORDER BY run_after, id) AS k
  FROM due
), promoted AS (
  UPDATE jobs j SET status = 'pending',
    position = CASE WHEN n.conversation IS NULL THEN 0
      ELSE ((SELECT last FROM lasts) ->> n.conversation)::bigint - n.n + n.k
      END
  FROM numbered n
  WHERE j.id = n.id
    AND (n.conversation IS NULL OR (SELECT last FROM lasts) ? n.conversation)
  RETURNING 1
)
SELECT count(*) FROM promoted;
