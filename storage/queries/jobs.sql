-- Reading jobs, and changing a job's status by hand (the UpdateJobStatus
-- RPC; workers' calls are in leases.sql).
--
-- Job rows are returned as in jobs_enqueue.sql. Blocks are named as in
-- users.sql, which says how to run them by hand.

-- name: get_job
-- Job $1 (an id).
SELECT id, user_id, source_channel_id, source_type, user_phone, payload,
  status, content_type, idempotency_key, extract(epoch FROM created_at),
  extract(epoch FROM updated_at), attempts, max_attempts,
  extract(epoch FROM run_after), lease_token,
  extract(epoch FROM lease_expires_at), worker_id, last_error, queue, ordered, priority,
  extract(epoch FROM cancel_requested_at), result, attempt_errors,
    max_run_ms, extract(epoch FROM run_deadline)
FROM jobs
WHERE id = $1;

-- name: update_status
-- Moves job $1 to status $2 when it is in status $3 ('' for any) and,
-- when leased, $4 is its lease token and the lease has not expired; $5 is
-- the lease in milliseconds when $2 is 'processing'. One statement: lock
-- the row, apply the transition when allowed, and report what was found,
-- so a refusal can say why: the status found, its lease token, an earlier
-- active job of its conversation, whether another job of it is processing,
-- whether the lease expired; then the job when it changed. Moving to
-- processing is a claim by hand: only a conversation's head (no earlier
-- active job, read from the index in position order) while its
-- conversation, whose row is locked, has nothing processing; with a new
-- lease (at most its run-time limit, as a claim's) and an attempt
-- counted. Leaving processing ends the lease; a job
-- CancelJob asked to stop leaves it for cancelled instead (the caller
-- reports that as a refusal). A scheduled job moved to pending runs now:
-- due at once, at the end of its conversation (the position trigger gives
-- it the next position).
WITH current AS (
  SELECT id AS current_id, status AS current_status,
    coalesce(lease_token::text, '') AS current_lease,
    lease_expires_at <= now() AS current_expired,
    conversation AS current_channel, position AS current_position
  FROM jobs WHERE id = $1 FOR UPDATE
), earlier AS (
  SELECT e.id AS earlier_id
  FROM current
  LEFT JOIN conversations c ON c.conversation = current_channel
  JOIN jobs e ON e.conversation = current_channel
    AND e.position >= coalesce(c.first_position, 0)
  WHERE $2 = 'processing' AND current_status = 'pending'
    AND e.status IN ('pending', 'processing')
    AND e.position < current_position
  ORDER BY e.position LIMIT 1
), busy AS (
  SELECT c.processing_jobs AS busy_jobs
  FROM conversations c, current
  WHERE $2 = 'processing' AND current_status = 'pending'
    AND c.conversation = current_channel AND c.processing_jobs > 0
  FOR UPDATE OF c
), updated AS (
  UPDATE jobs SET
    status = CASE WHEN current_status = 'processing'
        AND cancel_requested_at IS NOT NULL THEN 'cancelled' ELSE $2 END,
    lease_token = CASE WHEN $2 = 'processing' THEN gen_random_uuid() END,
    lease_expires_at = CASE WHEN $2 = 'processing'
      THEN least(now() + $5 * interval '1 millisecond',
        now() + coalesce(max_run_ms,
          (SELECT q.max_run_ms FROM queues q WHERE q.name = jobs.queue))
          * interval '1 millisecond') END,
    run_deadline = CASE WHEN $2 = 'processing'
      THEN now() + coalesce(max_run_ms,
        (SELECT q.max_run_ms FROM queues q WHERE q.name = jobs.queue))
        * interval '1 millisecond' END,
    attempts = attempts + ($2 = 'processing')::int,
    run_after = CASE WHEN current_status = 'scheduled'
      THEN least(run_after, now()) ELSE run_after END
  FROM current
  WHERE id = current_id AND ($3 = '' OR current_status = $3)
    AND (current_lease = '' OR (current_lease = $4 AND NOT current_expired))
    AND NOT EXISTS (SELECT 1 FROM earlier)
    AND NOT EXISTS (SELECT 1 FROM busy)
    AND (current_status, $2) IN (VALUES ('pending', 'processing'),
      ('processing', 'complete'), ('processing', 'failed'),
      ('processing', 'pending'), ('failed', 'pending'),
      ('scheduled', 'pending'))
  RETURNING id, user_id, source_channel_id, source_type, user_phone,
    payload, status, content_type, idempotency_key,
    extract(epoch FROM created_at), extract(epoch FROM updated_at), attempts,
    max_attempts, extract(epoch FROM run_after), lease_token,
    extract(epoch FROM lease_expires_at), worker_id, last_error, queue, ordered, priority,
    extract(epoch FROM cancel_requested_at), result, attempt_errors,
    max_run_ms, extract(epoch FROM run_deadline)
)
SELECT current_status, current_lease,
  coalesce((SELECT earlier_id::text FROM earlier), ''),
  EXISTS (SELECT 1 FROM busy), coalesce(current_expired, false), updated.*
FROM current LEFT JOIN updated ON true;

-- name: list_jobs
-- A page of jobs, newest first: filters $1 user id, $2 status, $3 source
-- channel id, $4 source type ('' for any), created in [$5, $6), after the
-- cursor ($7 created_at, $8 id) in that order, at most $9 rows. Never
-- prepared: sent as text with its values quoted in place, so the filters
-- that are '' drop out when it is planned and each page is a range scan of
-- the index that serves the filters given (a generic plan would keep every
-- OR).
SELECT id, user_id, source_channel_id, source_type, user_phone, payload,
  status, content_type, idempotency_key, extract(epoch FROM created_at),
  extract(epoch FROM updated_at), attempts, max_attempts,
  extract(epoch FROM run_after), lease_token,
  extract(epoch FROM lease_expires_at), worker_id, last_error, queue, ordered, priority,
  extract(epoch FROM cancel_requested_at), result, attempt_errors,
    max_run_ms, extract(epoch FROM run_deadline)
FROM jobs
WHERE ($1 = '' OR user_id = $1) AND ($2 = '' OR status = $2)
  AND ($3 = '' OR source_channel_id = $3)
  AND ($4 = '' OR source_type = $4)
  AND created_at >= $5::timestamptz AND created_at < $6::timestamptz
  AND (created_at, id) < ($7::timestamptz, $8::uuid)
-- Qualified, so that it stays the indexed column, never a column of the
-- select list (ordering by epoch seconds would sort instead of scanning).
ORDER BY jobs.created_at DESC, jobs.id DESC
LIMIT $9;
