-- Enqueueing jobs: one job, a group-committed batch, and the lookup of jobs
-- whose idempotency key an enqueue found taken.
--
-- Each enqueue takes positions in its conversations: it counts its jobs as
-- pending in their conversations' rows (inserted when missing), locking
-- them in one order so that concurrent enqueues cannot deadlock. The row
-- lock, held until commit, makes positions follow commit order. A
-- conversation that had no active job becomes ready, its new jobs first.
-- The statement says it counted its rows (jobqueue.statement_counted), so
-- the insert trigger on jobs does not count them again: one write of the
-- conversation's row instead of two (enqueues ran at half the rate with
-- the trigger counting). A row then skipped by ON CONFLICT (two enqueues of
-- one key at once) stays counted until maintenance repairs it.
--
-- A new job is returned as the columns the database chose (id, status,
-- created_at, updated_at, run_after), read with the request by
-- pg_job_store_internal.h's NewJobFromRow: not its payload and the columns
-- an enqueue leaves at their defaults, which the caller already has.
-- Existing jobs (jobs_by_idempotency_keys) are whole rows as JobFromRow
-- reads them. Times are in seconds since the epoch (extract(epoch ...)).
-- Blocks are named as in users.sql, which says how to run them by hand.

-- name: enqueue_keep_name
-- One job: $1 user phone, $2 user first name (here always ''), $3 source
-- channel id, $4 source type, $5 payload (JSON object), $6 content type,
-- $7 idempotency key ('' for none), $8 max attempts, $9 queue, $10 whether
-- it is ordered (an unordered job has no conversation and position 0), $11
-- priority, $12 when it is due (a timestamptz; '-infinity' for now), $13
-- a delay in microseconds: it runs at the later of $12 and now() + $13;
-- $14 its run-time limit in milliseconds (0: its queue's).
-- A job due later is 'scheduled': no position, not counted in its
-- conversation (the promoter in schedule.sql makes it pending once due).
-- A conversation it makes ready takes its priority and kind
-- (source and content type).
-- Creates the user when
-- missing, keeping an existing user's name, then the job unless its key is
-- taken (then no row is returned). The user insert and the foreign key
-- check run in one statement, so one round trip does both.
WITH fresh AS (
  SELECT $9::text || ' ' || $3::text AS key, 1 AS n,
    greatest($12::timestamptz, now() + $13::bigint * interval '1 microsecond')
      AS due
  WHERE $7 = '' OR NOT EXISTS (SELECT 1 FROM jobs WHERE idempotency_key = $7)
), conversation AS (
  INSERT INTO conversations AS c
    (conversation, last_position, pending_jobs, first_position, ready_since,
     head_priority, head_source_type, head_content_type)
  SELECT key, n, n, 1, clock_timestamp(), $11::smallint, $4, $6 FROM fresh
  WHERE $10::boolean AND due <= now()
  ORDER BY key
  ON CONFLICT (conversation) DO UPDATE
    SET last_position = c.last_position + EXCLUDED.last_position,
        pending_jobs = c.pending_jobs + EXCLUDED.pending_jobs,
        first_position = CASE WHEN c.pending_jobs = 0
          AND c.processing_jobs = 0 THEN c.last_position + 1
          ELSE c.first_position END,
        ready_since = CASE WHEN c.pending_jobs = 0 AND c.processing_jobs = 0
          THEN clock_timestamp() ELSE c.ready_since END,
        head_priority = CASE WHEN c.pending_jobs = 0
          AND c.processing_jobs = 0 THEN EXCLUDED.head_priority
          ELSE c.head_priority END,
        head_source_type = CASE WHEN c.pending_jobs = 0
          AND c.processing_jobs = 0 THEN EXCLUDED.head_source_type
          ELSE c.head_source_type END,
        head_content_type = CASE WHEN c.pending_jobs = 0
          AND c.processing_jobs = 0 THEN EXCLUDED.head_content_type
          ELSE c.head_content_type END
  RETURNING c.conversation AS key, c.last_position AS last,
    set_config('jobqueue.statement_counted', 'on', true) AS counted
), new_user AS (
  INSERT INTO users (phone_number, first_name) VALUES ($1, NULLIF($2, ''))
  ON CONFLICT (phone_number) DO NOTHING
)
INSERT INTO jobs (user_id, user_phone, source_channel_id, source_type,
  payload, content_type, idempotency_key, max_attempts, queue, ordered,
  priority, position, status, run_after, max_run_ms)
SELECT $1, $1, $3, $4, $5::jsonb, $6, NULLIF($7, ''), $8, $9, $10, $11,
  coalesce(last, 0),
  CASE WHEN due > now() THEN 'scheduled' ELSE 'pending' END, due,
  NULLIF($14::int, 0)
FROM fresh LEFT JOIN conversation ON true
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING id, status, extract(epoch FROM created_at),
  extract(epoch FROM updated_at), extract(epoch FROM run_after);

-- name: enqueue_set_name
-- As enqueue_keep_name, for a $2 that is not '': an existing user takes
-- that first name. (One statement for both would lock the user's row on
-- every enqueue: ON CONFLICT DO UPDATE locks the row even when its WHERE
-- leaves it unchanged.)
WITH fresh AS (
  SELECT $9::text || ' ' || $3::text AS key, 1 AS n,
    greatest($12::timestamptz, now() + $13::bigint * interval '1 microsecond')
      AS due
  WHERE $7 = '' OR NOT EXISTS (SELECT 1 FROM jobs WHERE idempotency_key = $7)
), conversation AS (
  INSERT INTO conversations AS c
    (conversation, last_position, pending_jobs, first_position, ready_since,
     head_priority, head_source_type, head_content_type)
  SELECT key, n, n, 1, clock_timestamp(), $11::smallint, $4, $6 FROM fresh
  WHERE $10::boolean AND due <= now()
  ORDER BY key
  ON CONFLICT (conversation) DO UPDATE
    SET last_position = c.last_position + EXCLUDED.last_position,
        pending_jobs = c.pending_jobs + EXCLUDED.pending_jobs,
        first_position = CASE WHEN c.pending_jobs = 0
          AND c.processing_jobs = 0 THEN c.last_position + 1
          ELSE c.first_position END,
        ready_since = CASE WHEN c.pending_jobs = 0 AND c.processing_jobs = 0
          THEN clock_timestamp() ELSE c.ready_since END,
        head_priority = CASE WHEN c.pending_jobs = 0
          AND c.processing_jobs = 0 THEN EXCLUDED.head_priority
          ELSE c.head_priority END,
        head_source_type = CASE WHEN c.pending_jobs = 0
          AND c.processing_jobs = 0 THEN EXCLUDED.head_source_type
          ELSE c.head_source_type END,
        head_content_type = CASE WHEN c.pending_jobs = 0
          AND c.processing_jobs = 0 THEN EXCLUDED.head_content_type
          ELSE c.head_content_type END
  RETURNING c.conversation AS key, c.last_position AS last,
    set_config('jobqueue.statement_counted', 'on', true) AS counted
), new_user AS (
  -- Skipped when the user already has that name (no row lock then).
  INSERT INTO users (phone_number, first_name)
  SELECT $1, NULLIF($2, '')
  WHERE NOT EXISTS (SELECT 1 FROM users WHERE phone_number = $1
                    AND first_name = NULLIF($2, ''))
  ON CONFLICT (phone_number) DO UPDATE SET first_name = EXCLUDED.first_name
    WHERE users.first_name IS DISTINCT FROM EXCLUDED.first_name
)
INSERT INTO jobs (user_id, user_phone, source_channel_id, source_type,
  payload, content_type, idempotency_key, max_attempts, queue, ordered,
  priority, position, status, run_after, max_run_ms)
SELECT $1, $1, $3, $4, $5::jsonb, $6, NULLIF($7, ''), $8, $9, $10, $11,
  coalesce(last, 0),
  CASE WHEN due > now() THEN 'scheduled' ELSE 'pending' END, due,
  NULLIF($14::int, 0)
FROM fresh LEFT JOIN conversation ON true
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING id, status, extract(epoch FROM created_at),
  extract(epoch FROM updated_at), extract(epoch FROM run_after);

-- name: enqueue_batch
-- Many jobs in one statement. Arrays with one element per job, in arrival
-- order (which gives each conversation its positions): $1 ids (chosen by
-- the caller, to match rows to jobs), $2 user phones, $3 first names, $4
-- source channel ids, $5 source types, $6 payloads, $7 content types, $8
-- idempotency keys ('' for none), $9 max attempts, $10 queues, $11 whether
-- each is ordered, $12 priorities, $13 when each is due (timestamptz;
-- '-infinity' for now), $14 delays in microseconds (as enqueue_keep_name's
-- $12 and $13: a job due later is scheduled), $15 run-time limits in
-- milliseconds (0: the queue's). A job whose key is taken
-- (or repeats an earlier one of the batch) is skipped. A user takes the
-- last non-empty first name given for it.
WITH input AS (
  SELECT t.*, greatest(t.run_at, now() + t.delay * interval '1 microsecond')
    AS due
  FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[],
    $5::text[], $6::jsonb[], $7::text[], $8::text[], $9::int[], $10::text[],
    $11::boolean[], $12::smallint[], $13::timestamptz[], $14::bigint[],
    $15::int[])
    WITH ORDINALITY AS t(id, user_phone, first_name, source_channel_id,
      source_type, payload, content_type, idempotency_key, max_attempts,
      queue, ordered, priority, run_at, delay, max_run_ms, ord)
), fresh AS (
  SELECT DISTINCT ON (coalesce(NULLIF(idempotency_key, ''), id::text)) *
  FROM input i
  WHERE idempotency_key = ''
    OR NOT EXISTS (SELECT 1 FROM jobs
                   WHERE jobs.idempotency_key = i.idempotency_key)
  ORDER BY coalesce(NULLIF(idempotency_key, ''), id::text), ord
), counts AS (
  SELECT queue || ' ' || source_channel_id AS key, count(*) AS n,
    (array_agg(priority ORDER BY ord))[1] AS first_priority,
    (array_agg(source_type ORDER BY ord))[1] AS first_source_type,
    (array_agg(content_type ORDER BY ord))[1] AS first_content_type
  FROM fresh WHERE ordered AND due <= now() GROUP BY 1
), conversation AS (
  INSERT INTO conversations AS c
    (conversation, last_position, pending_jobs, first_position, ready_since,
     head_priority, head_source_type, head_content_type)
  SELECT key, n, n, 1, clock_timestamp(), first_priority, first_source_type,
    first_content_type
  FROM counts
  ORDER BY key
  ON CONFLICT (conversation) DO UPDATE
    SET last_position = c.last_position + EXCLUDED.last_position,
        pending_jobs = c.pending_jobs + EXCLUDED.pending_jobs,
        first_position = CASE WHEN c.pending_jobs = 0
          AND c.processing_jobs = 0 THEN c.last_position + 1
          ELSE c.first_position END,
        ready_since = CASE WHEN c.pending_jobs = 0 AND c.processing_jobs = 0
          THEN clock_timestamp() ELSE c.ready_since END,
        head_priority = CASE WHEN c.pending_jobs = 0
          AND c.processing_jobs = 0 THEN EXCLUDED.head_priority
          ELSE c.head_priority END,
        head_source_type = CASE WHEN c.pending_jobs = 0
          AND c.processing_jobs = 0 THEN EXCLUDED.head_source_type
          ELSE c.head_source_type END,
        head_content_type = CASE WHEN c.pending_jobs = 0
          AND c.processing_jobs = 0 THEN EXCLUDED.head_content_type
          ELSE c.head_content_type END
  RETURNING c.conversation AS key, c.last_position AS last,
    set_config('jobqueue.statement_counted', 'on', true) AS counted
), user_names AS (
  SELECT DISTINCT ON (user_phone) user_phone, NULLIF(first_name, '') AS name
  FROM input ORDER BY user_phone, first_name = '', ord DESC
), new_users AS (
  -- A user whose name this batch does not change is left alone: an
  -- ON CONFLICT DO UPDATE locks the row even when its WHERE is false, and
  -- every batch of a busy user would then wait for the one before it.
  INSERT INTO users (phone_number, first_name)
  SELECT user_phone, name FROM user_names n
  WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.phone_number = n.user_phone
                    AND (n.name IS NULL OR u.first_name = n.name))
  ON CONFLICT (phone_number) DO UPDATE SET first_name = EXCLUDED.first_name
    WHERE EXCLUDED.first_name IS NOT NULL
      AND users.first_name IS DISTINCT FROM EXCLUDED.first_name
)
INSERT INTO jobs (id, user_id, user_phone, source_channel_id, source_type,
  payload, content_type, idempotency_key, max_attempts, queue, ordered,
  priority, position, status, run_after, max_run_ms)
SELECT f.id, f.user_phone, f.user_phone, f.source_channel_id, f.source_type,
  f.payload, f.content_type, NULLIF(f.idempotency_key, ''), f.max_attempts,
  f.queue, f.ordered, f.priority,
  CASE WHEN f.ordered AND f.due <= now()
    -- The new last positions as one map, computed once and read by key: a
    -- join of the CTEs, estimated at one row each in the generic plan, was
    -- a nested loop (1,000 jobs: a million key comparisons).
    THEN ((SELECT jsonb_object_agg(key, last) FROM conversation)
          ->> (f.queue || ' ' || f.source_channel_id))::bigint
      - count(*) OVER conversation_jobs
      + row_number() OVER (conversation_jobs ORDER BY f.ord)
  ELSE 0 END,
  CASE WHEN f.due > now() THEN 'scheduled' ELSE 'pending' END, f.due,
  NULLIF(f.max_run_ms, 0)
FROM fresh f
WINDOW conversation_jobs AS (PARTITION BY f.ordered, f.due <= now(), f.queue,
                                          f.source_channel_id)
ORDER BY f.queue, f.source_channel_id, f.ord
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING id, status, extract(epoch FROM created_at),
  extract(epoch FROM updated_at), extract(epoch FROM run_after);

-- name: jobs_by_idempotency_keys
-- The jobs holding the idempotency keys of array $1 (after an enqueue
-- found them taken: ON CONFLICT waited for their owners to commit).
SELECT id, user_id, source_channel_id, source_type, user_phone, payload,
  status, content_type, idempotency_key, extract(epoch FROM created_at),
  extract(epoch FROM updated_at), attempts, max_attempts,
  extract(epoch FROM run_after), lease_token,
  extract(epoch FROM lease_expires_at), worker_id, last_error, queue, ordered, priority,
  extract(epoch FROM cancel_requested_at), result, attempt_errors,
    max_run_ms, extract(epoch FROM run_deadline)
FROM jobs
WHERE idempotency_key = ANY($1::text[]);
