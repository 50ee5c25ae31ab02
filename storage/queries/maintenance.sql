-- Maintenance, in one process at a time: every step first tries the
-- transaction-scoped advisory lock $1 (kMaintenanceLockKey of
-- storage/advisory_locks.h) and does nothing without it, reporting
-- whether it held it. No step waits for a row another session holds: it
-- skips it, and takes it in a later round.
-- Blocks are named as in users.sql, which says how to run them by hand.

-- name: rescue_leases
-- Returns lapsed leases to pending, or to failed plus a dead letter when
-- their attempts are used up, or to cancelled when CancelJob asked: at most
-- 1000 ordered ones whose job and conversation rows are both free now (a
-- job with no conversation row waits for the sweep to make one), and at
-- most 1000 unordered ones. Each lapsed attempt joins attempt_errors. A
-- lease that ended at the job's run_deadline is a failed attempt of a job
-- that ran too long: back to pending only after a backoff of $2
-- milliseconds doubled per attempt up to $3, with jitter, as FailJob's.
-- Returns whether it held the lock, how many went back to pending, to
-- failed and to cancelled, and how many lapsed leases its snapshot saw (the
-- rest are rows another session holds).
WITH lock AS (
  SELECT pg_try_advisory_xact_lock($1) AS held
), expired AS (
  SELECT expired_id, over_limit,
    CASE WHEN over_limit THEN 'run-time limit reached at '
        || to_char(deadline AT TIME ZONE 'UTC',
                   'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
      ELSE 'lease expired' END
      || ' (worker ' || coalesce(worker, '') || ')' AS reason
  FROM (
    SELECT expired_id, over_limit, deadline, worker FROM (
      SELECT j.id AS expired_id, j.run_deadline AS deadline,
        j.worker_id AS worker,
        coalesce(j.lease_expires_at >= j.run_deadline, false) AS over_limit
      FROM jobs j JOIN conversations c ON c.conversation = j.conversation,
        lock
      WHERE held AND j.status = 'processing' AND j.lease_expires_at < now()
      ORDER BY j.lease_expires_at LIMIT 1000
      FOR UPDATE OF j, c SKIP LOCKED) ordered_jobs
    UNION ALL
    SELECT expired_id, over_limit, deadline, worker FROM (
      SELECT j.id AS expired_id, j.run_deadline AS deadline,
        j.worker_id AS worker,
        coalesce(j.lease_expires_at >= j.run_deadline, false) AS over_limit
      FROM jobs j, lock
      WHERE held AND j.status = 'processing' AND j.lease_expires_at < now()
        AND j.conversation IS NULL
      ORDER BY j.lease_expires_at LIMIT 1000
      FOR UPDATE OF j SKIP LOCKED) unordered_jobs) lapsed
), updated AS (
  UPDATE jobs SET
    status = CASE WHEN cancel_requested_at IS NOT NULL THEN 'cancelled'
      WHEN attempts >= max_attempts THEN 'failed' ELSE 'pending' END,
    last_error = reason,
    attempt_errors = append_attempt_error(attempt_errors, jsonb_build_object(
      'attempt', attempts,
      'error', reason,
      'worker_id', worker_id,
      'failed_at', to_char(now() AT TIME ZONE 'UTC',
                           'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))),
    lease_token = NULL, lease_expires_at = NULL, run_deadline = NULL,
    run_after = CASE WHEN over_limit
      THEN now() + least($3, $2 * power(2, attempts - 1))
        * (0.5 + random() / 2) * interval '1 millisecond'
      ELSE now() END
  FROM expired
  WHERE id = expired_id
    -- Re-checked on the row's latest version: a job completed meanwhile
    -- is left alone.
    AND status = 'processing' AND lease_expires_at < now()
  RETURNING id, status, payload, last_error
), dead AS (
  INSERT INTO dlq_jobs (source, delivery_id, reason, raw_payload, job_id)
  SELECT 'jobqueue.jobs', id::text, last_error, payload, id
  FROM updated WHERE status = 'failed'
  ON CONFLICT (source, delivery_id) DO UPDATE
    SET attempts = dlq_jobs.attempts + 1, last_seen_at = now(),
        reason = EXCLUDED.reason
)
SELECT (SELECT held FROM lock),
  count(*) FILTER (WHERE status = 'pending'),
  count(*) FILTER (WHERE status = 'failed'),
  (SELECT count(*) FROM (
     SELECT 1 FROM lock, jobs
     WHERE held AND status = 'processing' AND lease_expires_at < now()
     LIMIT 100000) lapsed),
  count(*) FILTER (WHERE status = 'cancelled')
FROM updated;

-- name: delete_completed
-- Deletes at most $3 jobs completed or cancelled more than $2 milliseconds
-- ago. Returns whether it held the lock and how many it deleted.
WITH lock AS (
  SELECT pg_try_advisory_xact_lock($1) AS held
), old AS (
  SELECT id AS old_id FROM jobs, lock
  WHERE held AND status IN ('complete', 'cancelled')
    AND updated_at < now() - $2 * interval '1 millisecond'
  LIMIT $3
  FOR UPDATE OF jobs SKIP LOCKED
), deleted AS (
  DELETE FROM jobs USING old WHERE id = old_id RETURNING 1
)
SELECT (SELECT held FROM lock), count(*) FROM deleted;

-- name: recount
-- Repairs conversations whose counts drifted: the longest-ready ones whose
-- head is not a pending job, then the sweep's next 1000 conversations after
-- $2 (a conversation id; '' starts over); then moves the ready floor (see
-- the migrations). Returns whether it held the lock, the conversations
-- repaired, where the sweep goes on next, and whether the floor moved.
-- None runs without the lock: CASE is evaluated lazily, and the sweep
-- function is STRICT, so a NULL argument skips it.
WITH lock AS (
  SELECT pg_try_advisory_xact_lock($1) AS held
)
SELECT held,
  CASE WHEN held THEN recount_conversations(1000) ELSE 0 END
    + coalesce(sweep.repaired, 0),
  coalesce(sweep.next_after, $2::text),
  CASE WHEN held THEN advance_ready_floor() ELSE 0 END
FROM lock,
  recount_conversations_after(CASE WHEN held THEN $2::text END, 1000) sweep;

-- name: remove_idle_conversations
-- Deletes the rows of at most $3 conversations with no active job for $2
-- milliseconds (a job of theirs checked in the index, whatever the counts
-- say); a later job of one makes a new row. Returns whether it held the
-- lock and how many it removed.
WITH lock AS (
  SELECT pg_try_advisory_xact_lock($1) AS held
), idle AS (
  SELECT c.conversation AS idle_id FROM conversations c, lock
  WHERE held AND c.pending_jobs = 0 AND c.processing_jobs = 0
    AND c.ready_since < now() - $2 * interval '1 millisecond'
    AND NOT EXISTS (SELECT 1 FROM jobs j
                    WHERE j.conversation = c.conversation
                      AND j.status IN ('pending', 'processing'))
  LIMIT $3
  FOR UPDATE OF c SKIP LOCKED
), removed AS (
  DELETE FROM conversations USING idle
  WHERE conversation = idle_id RETURNING 1
)
SELECT (SELECT held FROM lock), count(*) FROM removed;

-- name: roll_up_queue_counts
-- Folds the queue counters' deltas into queue_counts and queue_throughput
-- (see the migrations), so readers add up few rows. Returns whether it
-- held the lock and how many deltas it folded.
WITH lock AS (
  SELECT pg_try_advisory_xact_lock($1) AS held
)
SELECT held, CASE WHEN held THEN roll_up_queue_counts() ELSE 0 END
FROM lock;

-- Every claim and completion rewrites its conversation's row, so the table
-- gathers dead versions by the ten thousand between autovacuum's runs, and
-- claims scan them: VACUUM every round, which reads only the pages changed
-- since (0.2-0.5 ms with 100,000 rows, 200 of them changed, on a 2-core
-- VM). Statistics taken while no conversation was ready make the planner
-- sort every ready one for a claim of 50, so ANALYZE too, once a minute:
-- it samples 30,000 rows (75-240 ms on the same table). A role that does
-- not own the table gets a warning. Neither can be prepared nor run in a
-- transaction block. The queue counters' deltas, emptied by each roll-up,
-- are vacuumed with them, so readers never scan their dead rows for long.

-- name: vacuum_conversations
VACUUM (SKIP_LOCKED) conversations, queue_count_deltas;

-- name: vacuum_analyze_conversations
VACUUM (ANALYZE, SKIP_LOCKED) conversations, queue_count_deltas;
