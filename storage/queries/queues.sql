-- Settings of named queues (the queues table): the rate limit set by
-- SetQueueRateLimit, the default run-time limit set by SetQueueMaxRunTime
-- and the pause of PauseQueue and ResumeQueue, all read by GetQueue. Each
-- returns a queue as name, jobs_per_second, burst (NULL when unlimited),
-- max_run_ms (NULL when none), paused_at in epoch seconds and
-- pause_reason (both NULL while running). The claims skip a paused queue
-- and spend a limited
-- queue's tokens in their own statements (jobs_claim.sql), ReleaseJobs
-- refunds them (leases.sql).
-- Blocks are named as in users.sql, which says how to run them by hand.

-- name: set_queue_rate_limit
-- Sets queue $1's rate limit to $2 jobs per second with a burst of $3, or
-- removes it when $2 is NULL ($3 NULL too). A queue that had no limit
-- starts with a full bucket; a new rate keeps the tokens there are, at
-- most the new burst. Returns the queue.
INSERT INTO queues AS q (name, jobs_per_second, burst, tokens, refilled_at)
VALUES ($1, $2::float8, $3::int, $3::int,
        CASE WHEN $2::float8 IS NOT NULL THEN clock_timestamp() END)
ON CONFLICT (name) DO UPDATE SET
  jobs_per_second = EXCLUDED.jobs_per_second,
  burst = EXCLUDED.burst,
  tokens = CASE
    WHEN EXCLUDED.jobs_per_second IS NULL THEN NULL
    WHEN q.jobs_per_second IS NULL THEN EXCLUDED.burst
    ELSE least(EXCLUDED.burst, q.burst, q.tokens + greatest(0, extract(epoch
      FROM EXCLUDED.refilled_at - q.refilled_at)) * q.jobs_per_second) END,
  refilled_at = EXCLUDED.refilled_at,
  updated_at = now()
RETURNING name, jobs_per_second, burst, max_run_ms,
  extract(epoch FROM paused_at), pause_reason;

-- name: set_queue_max_run_time
-- Sets queue $1's default run-time limit to $2 milliseconds, or removes it
-- when $2 is NULL. Claims from then on use it for the queue's jobs that
-- have no limit of their own. Returns the queue.
INSERT INTO queues AS q (name, max_run_ms) VALUES ($1, $2::int)
ON CONFLICT (name) DO UPDATE SET max_run_ms = EXCLUDED.max_run_ms,
  updated_at = now()
RETURNING name, jobs_per_second, burst, max_run_ms,
  extract(epoch FROM paused_at), pause_reason;

-- name: get_queue
-- Queue $1's settings; no row when nothing was ever set for it.
SELECT name, jobs_per_second, burst, max_run_ms,
  extract(epoch FROM paused_at), pause_reason
FROM queues WHERE name = $1;

-- name: queue_next_token
-- Of queues $1 (an array), the limited running ones without a whole token:
-- the seconds until the first of them has one, and the seconds between its
-- tokens, and whether every queue of $1 (distinct names) waits for a
-- token; no row when none does. A claim that found nothing waits that
-- long at most. A paused queue waits for no token but for ResumeQueue,
-- which notifies: it is left out, so a claim naming it keeps listening.
SELECT (1 - q.tokens) / q.jobs_per_second, 1 / q.jobs_per_second,
  count(*) OVER () = cardinality($1::text[])
FROM unnest($1::text[]) k(name) CROSS JOIN LATERAL (
  SELECT jobs_per_second, least(burst, tokens + greatest(0, extract(epoch
    FROM clock_timestamp() - refilled_at)) * jobs_per_second) AS tokens
  FROM queues q
  WHERE q.name = k.name AND q.jobs_per_second IS NOT NULL
    AND q.paused_at IS NULL OFFSET 0) q
WHERE q.tokens < 1
ORDER BY 1 LIMIT 1;

-- name: pause_queue
-- Pauses queue $1 with reason $2 ('' for none): claims skip it from then
-- on. Pausing a paused queue keeps its paused_at, and its reason unless $2
-- is a new one. Returns the queue.
INSERT INTO queues AS q (name, paused_at, pause_reason)
VALUES ($1, now(), nullif($2::text, ''))
ON CONFLICT (name) DO UPDATE SET
  paused_at = coalesce(q.paused_at, EXCLUDED.paused_at),
  pause_reason = coalesce(EXCLUDED.pause_reason, q.pause_reason),
  updated_at = now()
RETURNING name, jobs_per_second, burst, max_run_ms,
  extract(epoch FROM paused_at), pause_reason;

-- name: resume_queue
-- Resumes queue $1 when it is paused, and then wakes the waiting claims of
-- every replica (the channel of the jobs triggers, delivered at commit).
-- Returns the queue; no row when it was not paused (get_queue answers it).
UPDATE queues SET paused_at = NULL, pause_reason = NULL, updated_at = now()
WHERE name = $1 AND paused_at IS NOT NULL
RETURNING name, jobs_per_second, burst, max_run_ms,
  extract(epoch FROM paused_at), pause_reason,
  pg_notify('jobqueue_jobs_changed', '');
