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
  UPDATE conversations c SET last_position = c.last_position + counts.n
  FROM held JOIN counts ON counts.key = held.key
  WHERE c.conversation = held.key
  RETURNING c.conversation AS key, c.last_position AS last
), lasts AS (
  SELECT key, last FROM made
  UNION ALL
  SELECT key, last FROM moved
), numbered AS (
  SELECT d.id, d.conversation, counts.n,
    row_number() OVER (PARTITION BY d.conversation
                       ORDER BY d.run_after, d.id) AS k
  FROM due d LEFT JOIN counts ON counts.key = d.conversation
), promoted AS (
  UPDATE jobs j SET status = 'pending',
    position = CASE WHEN n.conversation IS NULL THEN 0
      ELSE l.last - n.n + n.k END
  FROM numbered n LEFT JOIN lasts l ON l.key = n.conversation
  WHERE j.id = n.id AND (n.conversation IS NULL OR l.key IS NOT NULL)
  RETURNING 1
)
SELECT count(*) FROM promoted;
