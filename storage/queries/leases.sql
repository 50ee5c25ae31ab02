-- A worker's calls on the jobs it leased: extend, complete (one or a
-- batch), fail (with backoff, or for good with a dead letter), snooze,
-- release;
-- and RetryJob, which sends a failed job back to pending.
--
-- extend_lease, complete_job, fail_job, snooze_job and retry_job lock job $1, apply
-- their change when allowed and return the status found, whether the
-- caller's lease had expired, then the job (as in jobs_enqueue.sql) when it
-- changed, so a refusal can say why. A leased change needs the job to be
-- processing under lease token $2 with the lease not expired. When
-- CancelJob asked the job to stop (cancel_requested_at), the leased calls
-- instead move it to cancelled under that token, expired or not, ending
-- the lease and storing nothing of the call: the job they return is
-- 'cancelled', which the caller reports as a refusal.
-- Blocks are named as in users.sql, which says how to run them by hand.

-- name: extend_lease
-- Moves the end of the lease to $3 milliseconds from now, but never past
-- the job's run_deadline (its run-time limit): past that the lease has
-- expired, whatever the heartbeats.
WITH current AS (
  SELECT id AS current_id, status AS current_status,
    lease_token = $2::uuid AND lease_expires_at <= now() AS expired
  FROM jobs WHERE id = $1 FOR UPDATE
), updated AS (
  UPDATE jobs SET
    status = CASE WHEN cancel_requested_at IS NULL THEN 'processing'
      ELSE 'cancelled' END,
    lease_token = CASE WHEN cancel_requested_at IS NULL THEN lease_token END,
    lease_expires_at = CASE WHEN cancel_requested_at IS NULL
      THEN least(now() + $3 * interval '1 millisecond', run_deadline) END
  FROM current
  WHERE id = current_id AND current_status = 'processing'
    AND lease_token = $2::uuid
    AND (lease_expires_at > now() OR cancel_requested_at IS NOT NULL)
  RETURNING id, user_id, source_channel_id, source_type, user_phone,
    payload, status, content_type, idempotency_key,
    extract(epoch FROM created_at), extract(epoch FROM updated_at), attempts,
    max_attempts, extract(epoch FROM run_after), lease_token,
    extract(epoch FROM lease_expires_at), worker_id, last_error, queue, ordered, priority,
    extract(epoch FROM cancel_requested_at), result, attempt_errors,
    max_run_ms, extract(epoch FROM run_deadline)
)
SELECT current_status, coalesce(expired, false), updated.*
FROM current LEFT JOIN updated ON true;

-- name: complete_job
-- Completes the job with result $3 (JSON text; '' for none) and ends its
-- lease.
WITH current AS (
  SELECT id AS current_id, status AS current_status,
    lease_token = $2::uuid AND lease_expires_at <= now() AS expired
  FROM jobs WHERE id = $1 FOR UPDATE
), updated AS (
  UPDATE jobs SET
    status = CASE WHEN cancel_requested_at IS NULL THEN 'complete'
      ELSE 'cancelled' END,
    result = CASE WHEN cancel_requested_at IS NULL
      THEN nullif($3::text, '')::jsonb END,
    lease_token = NULL, lease_expires_at = NULL,
    last_error = CASE WHEN cancel_requested_at IS NULL THEN NULL
      ELSE last_error END
  FROM current
  WHERE id = current_id AND current_status = 'processing'
    AND lease_token = $2::uuid
    AND (lease_expires_at > now() OR cancel_requested_at IS NOT NULL)
  RETURNING id, user_id, source_channel_id, source_type, user_phone,
    payload, status, content_type, idempotency_key,
    extract(epoch FROM created_at), extract(epoch FROM updated_at), attempts,
    max_attempts, extract(epoch FROM run_after), lease_token,
    extract(epoch FROM lease_expires_at), worker_id, last_error, queue, ordered, priority,
    extract(epoch FROM cancel_requested_at), result, attempt_errors,
    max_run_ms, extract(epoch FROM run_deadline)
)
SELECT current_status, coalesce(expired, false), updated.*
FROM current LEFT JOIN updated ON true;

-- name: complete_jobs
-- Completes many leased jobs at once: ids $1, lease tokens $2 and results
-- $3 (JSON text, '' for none), arrays of one element per job. A pair whose
-- token is not current is left alone (and reported by the caller one at a
-- time); a job CancelJob asked to stop goes to cancelled instead. Returns
-- each job changed, then its conversation and the token it was changed
-- with.
--
-- The jobs leave processing in their conversations in this statement:
-- counted calls apply_job_changes once every row is written, with the
-- deltas the update trigger would have summed from its transition tables,
-- and tells the trigger so (jobqueue.statement_counted). The function is
-- volatile, so its statements see this one's writes and take snapshots of
-- their own after locking the conversations, as the trigger's do. The
-- queue counters' deltas are appended here too (tallied).
WITH input AS (
  SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[])
    AS t(input_id, token, input_result)
), updated AS (
  UPDATE jobs SET
    status = CASE WHEN cancel_requested_at IS NULL THEN 'complete'
      ELSE 'cancelled' END,
    result = CASE WHEN cancel_requested_at IS NULL
      THEN nullif(input_result, '')::jsonb END,
    lease_token = NULL, lease_expires_at = NULL,
    last_error = CASE WHEN cancel_requested_at IS NULL THEN NULL
      ELSE last_error END
  FROM input
  -- A lease token implies processing (jobs_lease_only_when_processing);
  -- leaving status out keeps the planner on the primary key.
  WHERE id = input_id AND lease_token = token AND id = ANY($1::uuid[])
    AND (lease_expires_at > now() OR cancel_requested_at IS NOT NULL)
  RETURNING id, user_id, source_channel_id, source_type, user_phone, payload,
    status, content_type, idempotency_key, extract(epoch FROM created_at),
    extract(epoch FROM updated_at), attempts, max_attempts,
    extract(epoch FROM run_after), lease_token,
    extract(epoch FROM lease_expires_at), worker_id, last_error, queue,
    ordered, priority, extract(epoch FROM cancel_requested_at), result,
    attempt_errors, max_run_ms, extract(epoch FROM run_deadline),
    conversation, token
), counted AS (
  SELECT apply_job_changes(array_agg(conversation ORDER BY conversation),
      array_fill(0, ARRAY[count(*)::int]),
      array_agg(-jobs ORDER BY conversation),
      array_fill(NULL::bigint, ARRAY[count(*)::int]),
      array_fill(NULL::bigint, ARRAY[count(*)::int])),
    set_config('jobqueue.statement_counted', 'on', true)
  FROM (SELECT conversation, count(*)::int AS jobs FROM updated
        WHERE conversation IS NOT NULL GROUP BY conversation) d
  HAVING count(*) > 0
), tallied AS (
  -- Each job leaves processing and enters complete (or cancelled) in its
  -- queue's counters, as jobs_tally_updated would count it.
  INSERT INTO queue_count_deltas (queue, status, minute, jobs, entered)
  SELECT queue, status, date_trunc('minute', now()), sum(jobs), sum(entered)
  FROM (SELECT queue, status, 1 AS jobs, (status = 'complete')::int AS entered
        FROM updated
        UNION ALL
        SELECT queue, 'processing', -1, 0 FROM updated) t
  GROUP BY queue, status
  RETURNING set_config('jobqueue.statement_tallied', 'on', true)
)
SELECT u.* FROM updated u CROSS JOIN (SELECT count(*) FROM counted) c;

-- name: fail_job
-- Records error $3. With $4 (retryable) and attempts left, the job goes
-- back to pending, due after a backoff of $5 milliseconds doubled per
-- attempt up to $6, with jitter; otherwise it fails for good and a copy
-- goes to dlq_jobs (once per job). The attempt joins attempt_errors.
WITH current AS (
  SELECT id AS current_id, status AS current_status,
    lease_token = $2::uuid AND lease_expires_at <= now() AS expired
  FROM jobs WHERE id = $1 FOR UPDATE
), updated AS (
  UPDATE jobs SET
    status = CASE WHEN cancel_requested_at IS NOT NULL THEN 'cancelled'
      WHEN $4 AND attempts < max_attempts THEN 'pending' ELSE 'failed' END,
    run_after = CASE WHEN cancel_requested_at IS NULL AND $4
        AND attempts < max_attempts
      THEN now() + least($6, $5 * power(2, attempts - 1))
        * (0.5 + random() / 2) * interval '1 millisecond'
      ELSE run_after END,
    lease_token = NULL, lease_expires_at = NULL,
    last_error = CASE WHEN cancel_requested_at IS NULL THEN $3
      ELSE last_error END,
    attempt_errors = CASE WHEN cancel_requested_at IS NULL
      THEN append_attempt_error(attempt_errors, jsonb_build_object(
        'attempt', attempts, 'error', $3::text, 'worker_id', worker_id,
        'failed_at', to_char(now() AT TIME ZONE 'UTC',
                             'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')))
      ELSE attempt_errors END
  FROM current
  WHERE id = current_id AND current_status = 'processing'
    AND lease_token = $2::uuid
    AND (lease_expires_at > now() OR cancel_requested_at IS NOT NULL)
  RETURNING id, user_id, source_channel_id, source_type, user_phone,
    payload, status, content_type, idempotency_key,
    extract(epoch FROM created_at), extract(epoch FROM updated_at), attempts,
    max_attempts, extract(epoch FROM run_after), lease_token,
    extract(epoch FROM lease_expires_at), worker_id, last_error, queue, ordered, priority,
    extract(epoch FROM cancel_requested_at), result, attempt_errors,
    max_run_ms, extract(epoch FROM run_deadline)
), dead AS (
  INSERT INTO dlq_jobs (source, delivery_id, reason, raw_payload, job_id)
  SELECT 'jobqueue.jobs', id::text, last_error, payload, id
  FROM updated WHERE status = 'failed'
  ON CONFLICT (source, delivery_id) DO UPDATE
    SET attempts = dlq_jobs.attempts + 1, last_seen_at = now(),
        reason = EXCLUDED.reason
)
SELECT current_status, coalesce(expired, false), updated.*
FROM current LEFT JOIN updated ON true;

-- name: snooze_job
-- Hands the job back to pending, due in $3 milliseconds, without counting
-- the claim's attempt. It keeps its position: the head of a conversation
-- stays its head, and the conversation waits until it is due.
WITH current AS (
  SELECT id AS current_id, status AS current_status,
    lease_token = $2::uuid AND lease_expires_at <= now() AS expired
  FROM jobs WHERE id = $1 FOR UPDATE
), updated AS (
  UPDATE jobs SET
    status = CASE WHEN cancel_requested_at IS NULL THEN 'pending'
      ELSE 'cancelled' END,
    attempts = CASE WHEN cancel_requested_at IS NULL
      THEN greatest(attempts - 1, 0) ELSE attempts END,
    run_after = CASE WHEN cancel_requested_at IS NULL
      THEN now() + $3 * interval '1 millisecond' ELSE run_after END,
    lease_token = NULL, lease_expires_at = NULL
  FROM current
  WHERE id = current_id AND current_status = 'processing'
    AND lease_token = $2::uuid
    AND (lease_expires_at > now() OR cancel_requested_at IS NOT NULL)
  RETURNING id, user_id, source_channel_id, source_type, user_phone,
    payload, status, content_type, idempotency_key,
    extract(epoch FROM created_at), extract(epoch FROM updated_at), attempts,
    max_attempts, extract(epoch FROM run_after), lease_token,
    extract(epoch FROM lease_expires_at), worker_id, last_error, queue, ordered, priority,
    extract(epoch FROM cancel_requested_at), result, attempt_errors,
    max_run_ms, extract(epoch FROM run_deadline)
)
SELECT current_status, coalesce(expired, false), updated.*
FROM current LEFT JOIN updated ON true;

-- name: release_jobs
-- Hands back leased jobs (ids $1, tokens $2, arrays) as if never claimed
-- (one CancelJob asked to stop meanwhile is cancelled): the tokens their
-- claim spent go back to their queue's bucket (at most its burst). Returns
-- how many were handed back.
WITH released AS (
  UPDATE jobs SET
    status = CASE WHEN cancel_requested_at IS NULL THEN 'pending'
      ELSE 'cancelled' END,
    attempts = greatest(attempts - 1, 0),
    lease_token = NULL, lease_expires_at = NULL
  FROM unnest($1::uuid[], $2::uuid[]) AS t(input_id, token)
  WHERE id = input_id AND lease_token = token AND id = ANY($1::uuid[])
  RETURNING queue
), refund AS (
  UPDATE queues q SET tokens = least(q.burst, q.tokens + n.jobs
      + greatest(0, extract(epoch FROM n.at - q.refilled_at))
        * q.jobs_per_second),
    refilled_at = greatest(q.refilled_at, n.at)
  FROM (SELECT queue, count(*) AS jobs, clock_timestamp() AS at
        FROM released GROUP BY queue) n
  WHERE q.name = n.queue AND q.jobs_per_second IS NOT NULL
)
SELECT count(*) FROM released;

-- name: retry_job
-- Sends failed job $1 back to pending with its attempts reset. The second
-- column (a lease that expired) is always false.
WITH current AS (
  SELECT id AS current_id, status AS current_status
  FROM jobs WHERE id = $1 FOR UPDATE
), updated AS (
  UPDATE jobs SET status = 'pending', attempts = 0, run_after = now()
  FROM current
  WHERE id = current_id AND current_status = 'failed'
  RETURNING id, user_id, source_channel_id, source_type, user_phone,
    payload, status, content_type, idempotency_key,
    extract(epoch FROM created_at), extract(epoch FROM updated_at), attempts,
    max_attempts, extract(epoch FROM run_after), lease_token,
    extract(epoch FROM lease_expires_at), worker_id, last_error, queue, ordered, priority,
    extract(epoch FROM cancel_requested_at), result, attempt_errors,
    max_run_ms, extract(epoch FROM run_deadline)
)
SELECT current_status, false, updated.*
FROM current LEFT JOIN updated ON true;

-- name: cancel_job
-- Cancels the job with id $1, or when $1 is '' the one with idempotency
-- key $2: a pending or scheduled job becomes cancelled; a processing one gets
-- cancel_requested_at (its worker's next call cancels it); others are left
-- alone. Returns the status found, then the job as it is now (changed or
-- not); no row when there is no such job.
WITH current AS (
  SELECT status AS current_status, id, user_id, source_channel_id,
    source_type, user_phone, payload, status, content_type, idempotency_key,
    extract(epoch FROM created_at), extract(epoch FROM updated_at), attempts,
    max_attempts, extract(epoch FROM run_after), lease_token,
    extract(epoch FROM lease_expires_at), worker_id, last_error, queue,
    ordered, priority, extract(epoch FROM cancel_requested_at), result,
    attempt_errors, max_run_ms, extract(epoch FROM run_deadline)
  FROM jobs
  WHERE id = coalesce(nullif($1::text, '')::uuid,
    (SELECT id FROM jobs WHERE idempotency_key = $2::text))
  FOR UPDATE
), updated AS (
  UPDATE jobs SET
    status = CASE WHEN status IN ('pending', 'scheduled') THEN 'cancelled'
      ELSE status END,
    cancel_requested_at = CASE WHEN status = 'processing'
      THEN coalesce(cancel_requested_at, now()) ELSE cancel_requested_at END
  WHERE id = (SELECT id FROM current)
    AND status IN ('pending', 'processing', 'scheduled')
  RETURNING id, user_id, source_channel_id, source_type, user_phone,
    payload, status, content_type, idempotency_key,
    extract(epoch FROM created_at), extract(epoch FROM updated_at), attempts,
    max_attempts, extract(epoch FROM run_after), lease_token,
    extract(epoch FROM lease_expires_at), worker_id, last_error, queue,
    ordered, priority, extract(epoch FROM cancel_requested_at), result,
    attempt_errors, max_run_ms, extract(epoch FROM run_deadline)
)
SELECT current_status, updated.* FROM current, updated
UNION ALL
SELECT * FROM current
WHERE current_status NOT IN ('pending', 'processing', 'scheduled');
