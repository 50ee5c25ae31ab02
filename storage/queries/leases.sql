-- A worker's calls on the jobs it leased: extend, complete (one or a
-- batch), fail (with backoff, or for good with a dead letter), release;
-- and RetryJob, which sends a failed job back to pending.
--
-- extend_lease, complete_job, fail_job and retry_job lock job $1, apply
-- their change when allowed and return the status found, whether the
-- caller's lease had expired, then the job (as in jobs_enqueue.sql) when it
-- changed, so a refusal can say why. A leased change needs the job to be
-- processing under lease token $2 with the lease not expired.
-- Blocks are named as in users.sql, which says how to run them by hand.

-- name: extend_lease
-- Moves the end of the lease to $3 milliseconds from now.
WITH current AS (
  SELECT id AS current_id, status AS current_status,
    lease_token = $2::uuid AND lease_expires_at <= now() AS expired
  FROM jobs WHERE id = $1 FOR UPDATE
), updated AS (
  UPDATE jobs SET lease_expires_at = now() + $3 * interval '1 millisecond'
  FROM current
  WHERE id = current_id AND current_status = 'processing'
    AND lease_token = $2::uuid AND lease_expires_at > now()
  RETURNING id, user_id, source_channel_id, source_type, user_phone,
    payload, status, content_type, idempotency_key,
    extract(epoch FROM created_at), extract(epoch FROM updated_at), attempts,
    max_attempts, extract(epoch FROM run_after), lease_token,
    extract(epoch FROM lease_expires_at), worker_id, last_error, queue, ordered, priority
)
SELECT current_status, coalesce(expired, false), updated.*
FROM current LEFT JOIN updated ON true;

-- name: complete_job
-- Completes the job and ends its lease.
WITH current AS (
  SELECT id AS current_id, status AS current_status,
    lease_token = $2::uuid AND lease_expires_at <= now() AS expired
  FROM jobs WHERE id = $1 FOR UPDATE
), updated AS (
  UPDATE jobs SET status = 'complete', lease_token = NULL,
    lease_expires_at = NULL, last_error = NULL
  FROM current
  WHERE id = current_id AND current_status = 'processing'
    AND lease_token = $2::uuid AND lease_expires_at > now()
  RETURNING id, user_id, source_channel_id, source_type, user_phone,
    payload, status, content_type, idempotency_key,
    extract(epoch FROM created_at), extract(epoch FROM updated_at), attempts,
    max_attempts, extract(epoch FROM run_after), lease_token,
    extract(epoch FROM lease_expires_at), worker_id, last_error, queue, ordered, priority
)
SELECT current_status, coalesce(expired, false), updated.*
FROM current LEFT JOIN updated ON true;

-- name: complete_jobs
-- Completes many leased jobs at once: ids $1 and lease tokens $2, arrays of
-- one element per job. A pair whose token is not current is left alone
-- (and reported by the caller one at a time). Returns each completed job,
-- then the token it was completed with.
WITH input AS (
  SELECT * FROM unnest($1::uuid[], $2::uuid[]) AS t(input_id, token)
)
UPDATE jobs SET status = 'complete', lease_token = NULL,
  lease_expires_at = NULL, last_error = NULL
FROM input
-- A lease token implies processing (jobs_lease_only_when_processing);
-- leaving status out keeps the planner on the primary key.
WHERE id = input_id AND lease_token = token AND id = ANY($1::uuid[])
  AND lease_expires_at > now()
RETURNING id, user_id, source_channel_id, source_type, user_phone, payload,
  status, content_type, idempotency_key, extract(epoch FROM created_at),
  extract(epoch FROM updated_at), attempts, max_attempts,
  extract(epoch FROM run_after), lease_token,
  extract(epoch FROM lease_expires_at), worker_id, last_error, queue, ordered, priority,
  token;

-- name: fail_job
-- Records error $3. With $4 (retryable) and attempts left, the job goes
-- back to pending, due after a backoff of $5 milliseconds doubled per
-- attempt up to $6, with jitter; otherwise it fails for good and a copy
-- goes to dlq_jobs (once per job).
WITH current AS (
  SELECT id AS current_id, status AS current_status,
    lease_token = $2::uuid AND lease_expires_at <= now() AS expired
  FROM jobs WHERE id = $1 FOR UPDATE
), updated AS (
  UPDATE jobs SET
    status = CASE WHEN $4 AND attempts < max_attempts
      THEN 'pending' ELSE 'failed' END,
    run_after = CASE WHEN $4 AND attempts < max_attempts
      THEN now() + least($6, $5 * power(2, attempts - 1))
        * (0.5 + random() / 2) * interval '1 millisecond'
      ELSE run_after END,
    lease_token = NULL, lease_expires_at = NULL, last_error = $3
  FROM current
  WHERE id = current_id AND current_status = 'processing'
    AND lease_token = $2::uuid AND lease_expires_at > now()
  RETURNING id, user_id, source_channel_id, source_type, user_phone,
    payload, status, content_type, idempotency_key,
    extract(epoch FROM created_at), extract(epoch FROM updated_at), attempts,
    max_attempts, extract(epoch FROM run_after), lease_token,
    extract(epoch FROM lease_expires_at), worker_id, last_error, queue, ordered, priority
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

-- name: release_jobs
-- Hands back leased jobs (ids $1, tokens $2, arrays) as if never claimed.
UPDATE jobs SET status = 'pending', attempts = greatest(attempts - 1, 0),
  lease_token = NULL, lease_expires_at = NULL
FROM unnest($1::uuid[], $2::uuid[]) AS t(input_id, token)
WHERE id = input_id AND lease_token = token AND id = ANY($1::uuid[]);

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
    extract(epoch FROM lease_expires_at), worker_id, last_error, queue, ordered, priority
)
SELECT current_status, false, updated.*
FROM current LEFT JOIN updated ON true;
