-- Claiming jobs (ClaimJobs): each claimed job is leased to the worker,
-- counting an attempt. Both blocks take $1 max jobs, $2 lease in
-- milliseconds, $3 worker id, $4 source type ('' for any), $5 the queues
-- (an array), and return the claimed jobs (as in jobs_enqueue.sql, then
-- seq) in enqueue order. Priorities are read one level at a time, from 9
-- down, stopping once $1 jobs are found; in a level each queue is read on
-- its own, at most $1 rows, so a claim's cost does not grow with other
-- queues' or levels' work. Rows read and locked beyond the $1 kept are let
-- go when the statement ends.
--
-- The last step re-checks each candidate with "not processing, complete or
-- failed", which is "pending" in a form the planner cannot serve from
-- jobs_pending_queue_seq_idx: with statistics taken while nothing was pending, it
-- would read every pending job instead of 50 primary key lookups.
-- Blocks are named as in users.sql, which says how to run them by hand.

-- name: claim_in_order
-- Claims in conversation order: the heads of ready conversations (some
-- pending job, none processing), each its conversation's pending job with
-- the lowest position and due, and the unordered jobs that are due; the
-- highest priority first, then the longest-due. Only ready conversations
-- whose head is due are read, however many jobs wait in blocked ones or in
-- backoff; each scan starts at the ready floor and each head lookup at the
-- conversation's first position, so versions left behind by earlier claims
-- are not read while a long snapshot keeps them. SKIP LOCKED on the
-- conversation and on the job lets concurrent claims take different heads
-- without waiting; the triggers on jobs update the counts.
WITH candidates AS (
  SELECT pick.job_id
  FROM generate_series(9, 0, -1) level
  CROSS JOIN LATERAL (
    SELECT job_id FROM (
      SELECT r.job_id, r.due
      FROM unnest($5::text[]) q(name)
      CROSS JOIN LATERAL (
        SELECT head.id AS job_id, c.ready_since AS due
        FROM conversations c
        CROSS JOIN LATERAL (
          SELECT id, status, run_after, source_type FROM jobs j
          WHERE j.conversation = c.conversation
            AND j.status IN ('pending', 'processing')
            AND j.position >= c.first_position
          ORDER BY j.position LIMIT 1) head
        WHERE c.queue = q.name AND c.head_priority = level
          AND c.pending_jobs > 0 AND c.processing_jobs = 0
          AND c.ready_since <= now()
          AND c.ready_since >= coalesce(
            (SELECT ready_floor FROM conversation_clock), '-infinity')
          AND head.status = 'pending' AND head.run_after <= now()
          AND ($4 = '' OR head.source_type = $4)
        ORDER BY c.ready_since LIMIT $1
        FOR UPDATE OF c SKIP LOCKED) r
      UNION ALL
      SELECT u.job_id, u.due
      FROM unnest($5::text[]) q(name)
      CROSS JOIN LATERAL (
        SELECT j.id AS job_id, j.run_after AS due FROM jobs j
        WHERE j.queue = q.name AND j.priority = level
          AND j.status = 'pending' AND j.conversation IS NULL
          AND j.run_after <= now() AND ($4 = '' OR j.source_type = $4)
        ORDER BY j.run_after LIMIT $1
        FOR UPDATE OF j SKIP LOCKED) u
    ) every
    ORDER BY due LIMIT $1) pick
  LIMIT $1
), locked AS (
  SELECT id AS locked_id FROM jobs
  WHERE id IN (SELECT job_id FROM candidates)
  FOR UPDATE SKIP LOCKED
), claimed AS (
  UPDATE jobs SET status = 'processing', attempts = attempts + 1,
    lease_token = gen_random_uuid(), worker_id = $3,
    lease_expires_at = now() + $2 * interval '1 millisecond'
  FROM locked
  WHERE id = locked_id
    AND status NOT IN ('processing', 'complete', 'failed')
  RETURNING id, user_id, source_channel_id, source_type, user_phone,
    payload, status, content_type, idempotency_key,
    extract(epoch FROM created_at), extract(epoch FROM updated_at), attempts,
    max_attempts, extract(epoch FROM run_after), lease_token,
    extract(epoch FROM lease_expires_at), worker_id, last_error, queue, ordered,
    priority, seq
)
SELECT * FROM claimed ORDER BY seq;

-- name: claim_any_order
-- Claims any due pending jobs of the queues, ignoring conversation order:
-- the highest priority first, then the oldest. A job whose conversation
-- row another session holds is skipped, not waited for (the count trigger
-- must update that row).
WITH candidates AS (
  SELECT pick.job_id
  FROM generate_series(9, 0, -1) level
  CROSS JOIN LATERAL (
    SELECT job_id FROM (
      SELECT o.job_id, o.seq
      FROM unnest($5::text[]) q(name)
      CROSS JOIN LATERAL (
        SELECT j.id AS job_id, j.seq
        FROM jobs j JOIN conversations c ON c.conversation = j.conversation
        WHERE j.queue = q.name AND j.priority = level
          AND j.status = 'pending' AND j.run_after <= now()
          AND ($4 = '' OR j.source_type = $4)
        ORDER BY j.seq LIMIT $1
        FOR UPDATE OF j, c SKIP LOCKED) o
      UNION ALL
      SELECT u.job_id, u.seq
      FROM unnest($5::text[]) q(name)
      CROSS JOIN LATERAL (
        SELECT j.id AS job_id, j.seq FROM jobs j
        WHERE j.queue = q.name AND j.priority = level
          AND j.status = 'pending' AND j.conversation IS NULL
          AND j.run_after <= now() AND ($4 = '' OR j.source_type = $4)
        ORDER BY j.run_after LIMIT $1
        FOR UPDATE OF j SKIP LOCKED) u
    ) every
    ORDER BY seq LIMIT $1) pick
  LIMIT $1
), claimed AS (
  UPDATE jobs SET status = 'processing', attempts = attempts + 1,
    lease_token = gen_random_uuid(), worker_id = $3,
    lease_expires_at = now() + $2 * interval '1 millisecond'
  FROM candidates
  WHERE id = job_id
    AND status NOT IN ('processing', 'complete', 'failed')
  RETURNING id, user_id, source_channel_id, source_type, user_phone,
    payload, status, content_type, idempotency_key,
    extract(epoch FROM created_at), extract(epoch FROM updated_at), attempts,
    max_attempts, extract(epoch FROM run_after), lease_token,
    extract(epoch FROM lease_expires_at), worker_id, last_error, queue, ordered,
    priority, seq
)
SELECT * FROM claimed ORDER BY seq;
