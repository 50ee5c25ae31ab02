-- The dlq_jobs table: what the service could not deliver or process.
-- (Jobs that fail for good are copied here by fail_job and rescue_leases.)
-- And dead_letter_replays: the replays operators asked for
-- (pg_dead_letters.cc). A dead letter is returned as DeadLetterFromRow
-- reads it: id, source, delivery id (NULL for none), reason, raw payload
-- text, attempts, first and last seen (seconds since the epoch), job id
-- (NULL for a delivery); a replay as ReplayFromRow reads it: dead letter
-- id, its attempts then, requested by, replayed at (seconds since the
-- epoch), job id and error (one of them NULL), tries.
--
-- Blocks are named as in users.sql, which says how to run them by hand.

-- name: record_dead_letter
-- Records a dead letter from source $1 with delivery id $2 ('' for none),
-- reason $3 and raw payload $4 (a JSON object); the same source and
-- delivery id again counts one more attempt and keeps the latest reason
-- and payload.
INSERT INTO dlq_jobs (source, delivery_id, reason, raw_payload)
VALUES ($1, NULLIF($2, ''), $3, $4::jsonb)
ON CONFLICT (source, delivery_id) DO UPDATE
  SET attempts = dlq_jobs.attempts + 1, last_seen_at = now(),
      reason = EXCLUDED.reason, raw_payload = EXCLUDED.raw_payload
RETURNING id, source, delivery_id, reason, raw_payload, attempts,
  extract(epoch FROM first_seen_at), extract(epoch FROM last_seen_at), job_id;

-- name: list_dead_letters
-- A page of dead letters, newest first: source $1 ('' for any), reason
-- containing $2 ignoring case ('' for any), last seen in [$3, $4), after
-- the cursor ($5 last_seen_at, $6 id) in (last_seen_at, id) order, at most
-- $7 rows; each with its latest replay (NULLs when none). A range scan of
-- dlq_jobs_last_seen_at_id_idx, so a page without filters reads O(page)
-- rows.
SELECT d.id, d.source, d.delivery_id, d.reason, d.raw_payload::text,
  d.attempts, extract(epoch FROM d.first_seen_at),
  extract(epoch FROM d.last_seen_at), d.job_id,
  r.dead_letter_id, r.dead_letter_attempts, r.requested_by,
  extract(epoch FROM r.replayed_at), r.job_id, r.error, r.tries
FROM dlq_jobs d
LEFT JOIN LATERAL (
  SELECT dead_letter_id, dead_letter_attempts, requested_by, replayed_at,
    job_id, error, tries
  FROM dead_letter_replays
  WHERE dead_letter_id = d.id
  ORDER BY dead_letter_attempts DESC
  LIMIT 1
) r ON true
WHERE ($1 = '' OR d.source = $1)
  AND ($2 = '' OR strpos(lower(d.reason), lower($2)) > 0)
  AND d.last_seen_at >= $3::timestamptz AND d.last_seen_at < $4::timestamptz
  AND (d.last_seen_at, d.id) < ($5::timestamptz, $6::uuid)
ORDER BY d.last_seen_at DESC, d.id DESC
LIMIT $7;

-- name: lock_dead_letter
-- A replay's first statement, in its transaction: locks dead letter $1
-- (a concurrent replay of it waits here) and returns it; no row when there
-- is none.
SELECT id, source, delivery_id, reason, raw_payload::text, attempts,
  extract(epoch FROM first_seen_at), extract(epoch FROM last_seen_at), job_id
FROM dlq_jobs
WHERE id = $1
FOR UPDATE;

-- name: dead_letter_replay
-- In a replay's transaction, once the dead letter is locked (so this
-- statement's snapshot sees any replay committed before): the replay of
-- dead letter $1 at attempts $2, if any.
SELECT dead_letter_id, dead_letter_attempts, requested_by,
  extract(epoch FROM replayed_at), job_id, error, tries
FROM dead_letter_replays
WHERE dead_letter_id = $1 AND dead_letter_attempts = $2;

-- name: record_dead_letter_replay
-- In a replay's transaction, after its job was made: the replay of dead
-- letter $1 at attempts $2 by $3, with job $4 ('' when it failed) or error
-- $5 ('' when it succeeded). A failed replay of that occurrence is tried
-- again (tries + 1); a successful one is never replaced (no row: the
-- caller rolls back).
INSERT INTO dead_letter_replays
  (dead_letter_id, dead_letter_attempts, requested_by, job_id, error)
VALUES ($1, $2, $3, NULLIF($4, '')::uuid, NULLIF($5, ''))
ON CONFLICT (dead_letter_id, dead_letter_attempts) DO UPDATE
  SET requested_by = EXCLUDED.requested_by, replayed_at = now(),
      job_id = EXCLUDED.job_id, error = EXCLUDED.error,
      tries = dead_letter_replays.tries + 1
  WHERE dead_letter_replays.job_id IS NULL
RETURNING dead_letter_id, dead_letter_attempts, requested_by,
  extract(epoch FROM replayed_at), job_id, error, tries;
