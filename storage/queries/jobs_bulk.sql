-- RetryJobs and CancelJobs: RetryJob and CancelJob for the jobs matching
-- ListJobs' filters, a bounded number per call.
--
-- Each takes the first $6 (retry) or $7 (cancel) matching jobs, oldest
-- first (created_at, then position, then id: the jobs of one EnqueueJobs
-- batch, created at one time, in their order), read without locks, then
-- locks those still matching in id order with SKIP LOCKED: a job another
-- session holds (a worker's statement, an operator's open transaction) is
-- passed over, not waited for, and left for a later call. The candidates read go one past
-- the bound, so a call knows whether more match: past its bound, or held.
-- With the dry-run flag nothing is locked or changed and the candidates
-- are only counted. Never prepared: sent as text with the values in place,
-- as list_jobs is, so the filters that are '' drop out when planned and the
-- candidates are read in index order. Blocks are named as in users.sql,
-- which says how to run them by hand.

-- name: retry_jobs_pick
-- The failed jobs RetryJobs retries: filters $1 user id, $2 source channel
-- id, $3 source type ('' for any), created in [$4, $5); at most $6; $7 true
-- for a dry run. One row per job locked, by conversation, then in the
-- order the candidates are taken (so a conversation's jobs take new
-- positions in that order, whether one call retries them or several, and
-- conversation rows are locked in key order, as every writer of
-- conversations locks them), each with the number of candidates read (at
-- most $6 + 1); a single row with a NULL id when none was locked.
WITH candidates AS (
  SELECT id, row_number() OVER (ORDER BY created_at, position, id) AS n
  FROM (
    SELECT id, created_at, position FROM jobs
    WHERE status = 'failed' AND ($1 = '' OR user_id = $1)
      AND ($2 = '' OR source_channel_id = $2)
      AND ($3 = '' OR source_type = $3)
      AND created_at >= $4::timestamptz AND created_at < $5::timestamptz
    -- Qualified: the indexed column, as in list_jobs (ties sorted apart).
    ORDER BY jobs.created_at, jobs.position, jobs.id
    LIMIT $6::int + 1) first
), locked AS (
  SELECT j.id, j.conversation, c.n FROM jobs j
  JOIN candidates c ON c.id = j.id AND c.n <= $6::int
  WHERE NOT $7::bool AND j.status = 'failed'
  ORDER BY j.id
  FOR UPDATE OF j SKIP LOCKED
)
SELECT l.id, (SELECT count(*) FROM candidates)
FROM (SELECT 1) one LEFT JOIN locked l ON true
ORDER BY l.conversation, l.n;

-- name: cancel_jobs
-- Cancels, as cancel_job does, the jobs matching filters $1 user id, $2
-- status ('' for scheduled, pending and processing), $3 source channel id,
-- $4 source type ('' for any), created in [$5, $6): at most $7, scheduled
-- and pending ones at once, processing ones not yet asked to stop getting
-- cancel_requested_at; $8 true for a dry run. Each status's candidates
-- are read from the index of its own (no sort of the whole backlog).
-- Returns how many were (dry run: would be) cancelled, how many asked to
-- stop, and whether matching jobs are left (past the bound, or held).
WITH candidates AS (
  SELECT id, status,
    row_number() OVER (ORDER BY created_at, position, id) AS n
  FROM (
    SELECT j.id, j.status, j.created_at, j.position
    FROM unnest(ARRAY['scheduled', 'pending', 'processing']) s(status)
    CROSS JOIN LATERAL (
      SELECT id, status, created_at, position FROM jobs
      WHERE jobs.status = s.status AND cancel_requested_at IS NULL
        AND ($1 = '' OR user_id = $1)
        AND ($3 = '' OR source_channel_id = $3)
        AND ($4 = '' OR source_type = $4)
        AND created_at >= $5::timestamptz AND created_at < $6::timestamptz
      ORDER BY jobs.created_at, jobs.position, jobs.id
      LIMIT $7::int + 1) j
    WHERE $2 = '' OR s.status = $2
    ORDER BY j.created_at, j.position, j.id
    LIMIT $7::int + 1) first
), locked AS (
  SELECT j.id FROM jobs j
  WHERE NOT $8::bool AND j.cancel_requested_at IS NULL
    AND j.status IN ('scheduled', 'pending', 'processing')
    AND ($2 = '' OR j.status = $2)
    AND j.id IN (SELECT id FROM candidates WHERE n <= $7::int)
  ORDER BY j.id
  FOR UPDATE SKIP LOCKED
), updated AS (
  UPDATE jobs SET
    status = CASE WHEN status IN ('pending', 'scheduled') THEN 'cancelled'
      ELSE status END,
    cancel_requested_at = CASE WHEN status = 'processing' THEN now()
      ELSE cancel_requested_at END
  FROM locked
  WHERE jobs.id = locked.id
  RETURNING jobs.status
), counted AS (
  SELECT count(*) FILTER (WHERE status <> 'processing') AS cancelled,
    count(*) FILTER (WHERE status = 'processing') AS requested
  FROM updated WHERE NOT $8::bool
  UNION ALL
  SELECT count(*) FILTER (WHERE status <> 'processing'),
    count(*) FILTER (WHERE status = 'processing')
  FROM candidates WHERE $8::bool AND n <= $7::int
)
SELECT sum(cancelled), sum(requested),
  (SELECT count(*) FROM candidates) > $7::int
    OR (NOT $8::bool AND (SELECT count(*) FROM locked)
        < (SELECT count(*) FROM candidates WHERE n <= $7::int))
FROM counted;
