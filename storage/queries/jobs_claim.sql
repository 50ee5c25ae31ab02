-- Claiming jobs (ClaimJobs): each claimed job is leased to the worker,
-- counting an attempt; a job with a run-time limit (its own, else its
-- queue's) gets its run_deadline, which its lease never passes. Every block takes $1 max jobs, $2 lease in
-- milliseconds and $3 worker id; claim_in_order then $4 the queues (an
-- array), the others $4 source type ('' for any), $5 the queues and $6 the
-- content types (an array, empty for any). Each returns the claimed jobs
-- (as in jobs_enqueue.sql, then seq) in enqueue order. A claim without a
-- filter has a statement of its own, half the size: cheaper to plan (each
-- call, through a transaction pooler) and to start.
--
-- A claim reads one priority level at a time, from the highest, and stops
-- once it has $1 jobs. It visits only the levels that hold work: each next
-- level is found by one index lookup per queue (and kind), so a claim of
-- the default level alone does not probe the nine above it. In a level each
-- queue (and, for a filtered claim, each kind: source type and content
-- type) is read on its own, at most $1 rows, so a claim's cost does not
-- grow with other queues', kinds' or levels' work. Rows read and locked
-- beyond the $1 kept are let go when the statement ends. A paused queue
-- (queues.paused_at set) is dropped with the queue names, before any
-- lookup of its jobs: none is read, and its conversations keep their
-- place for when it is resumed.
--
-- The server runs them with one generic plan (see settings.sql), which
-- knows neither how many jobs nor which filters: so every step is a lookup
-- by index whatever the estimates (the candidates are locked one by one,
-- and updated by primary key from an array), never a join the planner
-- could turn into a scan of jobs.
--
-- The last step re-checks each candidate with "not processing, complete or
-- failed", which is "pending" in a form the planner cannot serve from
-- jobs_pending_queue_priority_seq_idx: with statistics taken while nothing
-- was pending, it would read every pending job instead of 50 primary key
-- lookups.
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
-- without waiting; the statement counts its claims in their conversations
-- itself (counted), so the update trigger skips it.
WITH RECURSIVE floor AS (
  SELECT coalesce((SELECT ready_floor FROM conversation_clock),
                  '-infinity') AS at
), limited AS (
  -- The paused or rate-limited queues among $4, with the tokens this
  -- statement's snapshot shows them: a primary key probe per queue, no
  -- lock.
  SELECT q.name, q.paused_at IS NOT NULL AS paused, least(q.burst, q.tokens
    + greatest(0, extract(epoch FROM clock_timestamp() - q.refilled_at))
    * q.jobs_per_second) AS tokens
  FROM unnest($4::text[]) k(name) CROSS JOIN LATERAL (
    SELECT * FROM queues q
    WHERE q.name = k.name
      AND (q.jobs_per_second IS NOT NULL OR q.paused_at IS NOT NULL)
    OFFSET 0) q
), bucket AS (
  -- The running ones with a whole token, locked in name order (two claims
  -- never deadlock) and read at their newest: their tokens as of now (a
  -- pause committed meanwhile leaves the queue out).
  SELECT b.name, b.at, least(b.burst, b.tokens + greatest(0, extract(epoch
    FROM b.at - b.refilled_at)) * b.jobs_per_second) AS tokens
  FROM (SELECT q.*, clock_timestamp() AS at FROM (
    SELECT name, jobs_per_second, burst, tokens, refilled_at FROM queues
    WHERE name = ANY (ARRAY(SELECT name FROM limited
                            WHERE tokens >= 1 AND NOT paused))
      AND jobs_per_second IS NOT NULL AND paused_at IS NULL
    ORDER BY name FOR UPDATE) q) b
), queue_caps AS (
  -- Each queue with the jobs the claim may take of it: $1, or a limited
  -- queue's whole tokens, or none of a paused one. A queue with none is
  -- not read.
  SELECT queue, cap FROM (
    SELECT k.name AS queue, CASE WHEN l.name IS NULL THEN $1::int
      WHEN l.paused OR b.name IS NULL THEN 0
      ELSE least($1, floor(b.tokens))::int END AS cap
    FROM unnest($4::text[]) k(name)
    LEFT JOIN limited l ON l.name = k.name
    LEFT JOIN bucket b ON b.name = k.name) c
  WHERE cap > 0
), keys AS (
  SELECT queue, cap FROM queue_caps
), levels(level, o, u) AS (
  -- The levels holding work, highest first: o the highest level of ready
  -- conversations at or below it, u of unordered jobs. Starts above 9.
  SELECT 10, 10::smallint, 10::smallint
  UNION ALL
  SELECT greatest(n.o, n.u), n.o, n.u
  FROM levels l CROSS JOIN LATERAL (SELECT
    CASE WHEN l.o IS NULL OR l.o < l.level THEN l.o ELSE (
      SELECT max(x.p) FROM keys k CROSS JOIN LATERAL (
        SELECT c.head_priority AS p FROM conversations c
        WHERE c.queue = k.queue
          AND c.ready
          AND c.head_priority < l.level
          AND c.ready_since >= (SELECT at FROM floor)
        ORDER BY c.head_priority DESC LIMIT 1) x) END AS o,
    CASE WHEN l.u IS NULL OR l.u < l.level THEN l.u ELSE (
      SELECT max(x.p) FROM keys k CROSS JOIN LATERAL (
        SELECT j.priority AS p FROM jobs j
        WHERE j.queue = k.queue
          AND j.status = 'pending' AND j.conversation IS NULL
          AND j.priority < l.level
        ORDER BY j.priority DESC LIMIT 1) x) END AS u
    OFFSET 0) n
  WHERE l.level > 0 AND greatest(n.o, n.u) IS NOT NULL
), candidates AS (
  SELECT pick.job_id, pick.queue, l.level, pick.due
  FROM levels l
  CROSS JOIN LATERAL (
    SELECT job_id, queue, due FROM (
      SELECT r.job_id, k.queue, r.due
      FROM keys k
      CROSS JOIN LATERAL (
        SELECT head.id AS job_id, c.ready_since AS due
        FROM conversations c
        CROSS JOIN LATERAL (
          SELECT id, status, run_after FROM jobs j
          WHERE j.conversation = c.conversation
            AND j.status IN ('pending', 'processing')
            AND j.position >= c.first_position
          ORDER BY j.position LIMIT 1) head
        WHERE c.queue = k.queue
          AND c.head_priority = l.level
          AND c.ready
          AND c.ready_since <= now()
          AND c.ready_since >= (SELECT at FROM floor)
          AND head.status = 'pending' AND head.run_after <= now()
        ORDER BY c.ready_since LIMIT k.cap
        FOR UPDATE OF c SKIP LOCKED) r
      WHERE l.o = l.level
      UNION ALL
      SELECT u.job_id, k.queue, u.due
      FROM keys k
      CROSS JOIN LATERAL (
        SELECT j.id AS job_id, j.run_after AS due FROM jobs j
        WHERE j.queue = k.queue
          AND j.priority = l.level
          AND j.status = 'pending' AND j.conversation IS NULL
          AND j.run_after <= now()
        ORDER BY j.run_after LIMIT k.cap
        FOR UPDATE OF j SKIP LOCKED) u
      WHERE l.u = l.level
    ) every
    ORDER BY due LIMIT $1) pick
  WHERE l.level <= 9
  LIMIT $1
), capped AS (
  -- A limited queue's candidates beyond its tokens (found on several
  -- levels) are let go.
  SELECT c.job_id FROM (
    SELECT job_id, queue,
      row_number() OVER (PARTITION BY queue ORDER BY level DESC, due) AS n
    FROM candidates) c
  JOIN queue_caps k ON k.queue = c.queue
  WHERE c.n <= k.cap
), locked AS (
  SELECT l.id AS locked_id
  FROM capped c CROSS JOIN LATERAL (
    SELECT id FROM jobs WHERE id = c.job_id FOR UPDATE SKIP LOCKED) l
), claimed AS (
  UPDATE jobs SET status = 'processing', attempts = attempts + 1,
    lease_token = gen_random_uuid(), worker_id = $3,
    -- The job's run-time limit, else its queue's (none: NULL, and the
    -- lease is as asked).
    run_deadline = now() + coalesce(max_run_ms,
      (SELECT q.max_run_ms FROM queues q WHERE q.name = jobs.queue))
      * interval '1 millisecond',
    lease_expires_at = least(now() + $2 * interval '1 millisecond',
      now() + coalesce(max_run_ms,
        (SELECT q.max_run_ms FROM queues q WHERE q.name = jobs.queue))
        * interval '1 millisecond')
  WHERE id = ANY (ARRAY(SELECT locked_id FROM locked))
    AND status NOT IN ('processing', 'complete', 'failed', 'cancelled',
                       'scheduled')
  RETURNING id, user_id, source_channel_id, source_type, user_phone,
    payload, status, content_type, idempotency_key,
    extract(epoch FROM created_at), extract(epoch FROM updated_at), attempts,
    max_attempts, extract(epoch FROM run_after), lease_token,
    extract(epoch FROM lease_expires_at), worker_id, last_error, queue, ordered,
    priority, extract(epoch FROM cancel_requested_at), result,
    attempt_errors, max_run_ms, extract(epoch FROM run_deadline), seq,
    conversation
), counted AS (
  -- Each claimed head moves from pending to processing in its conversation
  -- (locked above), counted here in one pass; the flag tells the update
  -- trigger (jobs_count_updated) that this statement counted its rows.
  UPDATE conversations c
  SET pending_jobs = greatest(c.pending_jobs - n.jobs, 0),
      processing_jobs = c.processing_jobs + n.jobs
  FROM (SELECT conversation, count(*)::int AS jobs FROM claimed
        WHERE conversation IS NOT NULL GROUP BY conversation) n
  WHERE c.conversation = ANY (ARRAY(SELECT conversation FROM claimed
                                    WHERE conversation IS NOT NULL))
    AND c.conversation = n.conversation
  RETURNING set_config('jobqueue.statement_counted', 'on', true)
), tallied AS (
  -- The claimed jobs leave pending and enter processing in their queues'
  -- counters: the rows jobs_tally_updated would append, and the note that
  -- it need not.
  INSERT INTO queue_count_deltas (queue, status, minute, jobs, entered)
  SELECT n.queue, s.status, date_trunc('minute', now()), s.sign * n.jobs,
    CASE WHEN s.sign > 0 THEN n.jobs ELSE 0 END
  FROM (SELECT queue, count(*) AS jobs FROM claimed GROUP BY queue) n
  CROSS JOIN (VALUES ('pending', -1), ('processing', 1)) s(status, sign)
  RETURNING set_config('jobqueue.statement_tallied', 'on', true)
), spent AS (
  -- Tokens spent: one per job claimed of a limited queue.
  UPDATE queues q SET tokens = b.tokens - n.jobs,
    refilled_at = greatest(q.refilled_at, b.at)
  FROM bucket b JOIN (
    SELECT queue, count(*) AS jobs FROM claimed GROUP BY queue) n
    ON n.queue = b.name
  WHERE q.name = ANY (ARRAY(SELECT name FROM bucket)) AND q.name = b.name
)
SELECT * FROM claimed ORDER BY seq;

-- name: claim_in_order_by_kind
-- As claim_in_order, only jobs of the kinds asked for. The filter applies
-- to a conversation's head: a conversation whose head is of another kind is
-- not read, and its later jobs wait behind that head. Each queue and kind is
-- read on its own (conversations_queue_kind_ready_idx,
-- jobs_unordered_kind_due_idx).
WITH RECURSIVE floor AS (
  SELECT coalesce((SELECT ready_floor FROM conversation_clock),
                  '-infinity') AS at
), limited AS (
  -- The paused or rate-limited queues among $5, with the tokens this
  -- statement's snapshot shows them: a primary key probe per queue, no
  -- lock.
  SELECT q.name, q.paused_at IS NOT NULL AS paused, least(q.burst, q.tokens
    + greatest(0, extract(epoch FROM clock_timestamp() - q.refilled_at))
    * q.jobs_per_second) AS tokens
  FROM unnest($5::text[]) k(name) CROSS JOIN LATERAL (
    SELECT * FROM queues q
    WHERE q.name = k.name
      AND (q.jobs_per_second IS NOT NULL OR q.paused_at IS NOT NULL)
    OFFSET 0) q
), bucket AS (
  -- The running ones with a whole token, locked in name order (two claims
  -- never deadlock) and read at their newest: their tokens as of now (a
  -- pause committed meanwhile leaves the queue out).
  SELECT b.name, b.at, least(b.burst, b.tokens + greatest(0, extract(epoch
    FROM b.at - b.refilled_at)) * b.jobs_per_second) AS tokens
  FROM (SELECT q.*, clock_timestamp() AS at FROM (
    SELECT name, jobs_per_second, burst, tokens, refilled_at FROM queues
    WHERE name = ANY (ARRAY(SELECT name FROM limited
                            WHERE tokens >= 1 AND NOT paused))
      AND jobs_per_second IS NOT NULL AND paused_at IS NULL
    ORDER BY name FOR UPDATE) q) b
), queue_caps AS (
  -- Each queue with the jobs the claim may take of it: $1, or a limited
  -- queue's whole tokens, or none of a paused one. A queue with none is
  -- not read.
  SELECT queue, cap FROM (
    SELECT k.name AS queue, CASE WHEN l.name IS NULL THEN $1::int
      WHEN l.paused OR b.name IS NULL THEN 0
      ELSE least($1, floor(b.tokens))::int END AS cap
    FROM unnest($5::text[]) k(name)
    LEFT JOIN limited l ON l.name = k.name
    LEFT JOIN bucket b ON b.name = k.name) c
  WHERE cap > 0
), keys AS (
  -- Each queue with each kind asked for: source type ($4, '' for both) and
  -- content type ($6, empty for all; the kinds are those the CHECK
  -- constraints of jobs allow).
  SELECT q.queue, q.cap, s.type AS source_type, t.type AS content_type
  FROM queue_caps q
  CROSS JOIN unnest(CASE WHEN $4 = '' THEN ARRAY['dm', 'group']
                         ELSE ARRAY[$4] END) s(type)
  CROSS JOIN unnest(CASE WHEN cardinality($6::text[]) = 0
    THEN ARRAY['text', 'image', 'audio', 'video', 'document', 'location',
               'other']
    ELSE $6::text[] END) t(type)
), levels(level, o, u) AS (
  -- The levels holding work, highest first: o the highest level of ready
  -- conversations at or below it, u of unordered jobs. Starts above 9.
  SELECT 10, 10::smallint, 10::smallint
  UNION ALL
  SELECT greatest(n.o, n.u), n.o, n.u
  FROM levels l CROSS JOIN LATERAL (SELECT
    CASE WHEN l.o IS NULL OR l.o < l.level THEN l.o ELSE (
      SELECT max(x.p) FROM keys k CROSS JOIN LATERAL (
        SELECT c.head_priority AS p FROM conversations c
        WHERE c.queue = k.queue
          AND c.head_source_type = k.source_type
          AND c.head_content_type = k.content_type
          AND c.ready
          AND c.head_priority < l.level
          AND c.ready_since >= (SELECT at FROM floor)
        ORDER BY c.head_priority DESC LIMIT 1) x) END AS o,
    CASE WHEN l.u IS NULL OR l.u < l.level THEN l.u ELSE (
      SELECT max(x.p) FROM keys k CROSS JOIN LATERAL (
        SELECT j.priority AS p FROM jobs j
        WHERE j.queue = k.queue
          AND j.source_type = k.source_type
          AND j.content_type = k.content_type
          AND j.status = 'pending' AND j.conversation IS NULL
          AND j.priority < l.level
        ORDER BY j.priority DESC LIMIT 1) x) END AS u
    OFFSET 0) n
  WHERE l.level > 0 AND greatest(n.o, n.u) IS NOT NULL
), candidates AS (
  SELECT pick.job_id, pick.queue, l.level, pick.due
  FROM levels l
  CROSS JOIN LATERAL (
    SELECT job_id, queue, due FROM (
      SELECT rk.job_id, k.queue, rk.due
      FROM keys k
      CROSS JOIN LATERAL (
        SELECT head.id AS job_id, c.ready_since AS due
        FROM conversations c
        CROSS JOIN LATERAL (
          SELECT id, status, run_after FROM jobs j
          WHERE j.conversation = c.conversation
            AND j.status IN ('pending', 'processing')
            AND j.position >= c.first_position
          ORDER BY j.position LIMIT 1) head
        WHERE c.queue = k.queue
          AND c.head_source_type = k.source_type
          AND c.head_content_type = k.content_type
          AND c.head_priority = l.level
          AND c.ready
          AND c.ready_since <= now()
          AND c.ready_since >= (SELECT at FROM floor)
          AND head.status = 'pending' AND head.run_after <= now()
        ORDER BY c.ready_since LIMIT k.cap
        FOR UPDATE OF c SKIP LOCKED) rk
      WHERE l.o = l.level
      UNION ALL
      SELECT uk.job_id, k.queue, uk.due
      FROM keys k
      CROSS JOIN LATERAL (
        SELECT j.id AS job_id, j.run_after AS due FROM jobs j
        WHERE j.queue = k.queue
          AND j.source_type = k.source_type
          AND j.content_type = k.content_type
          AND j.priority = l.level
          AND j.status = 'pending' AND j.conversation IS NULL
          AND j.run_after <= now()
        ORDER BY j.run_after LIMIT k.cap
        FOR UPDATE OF j SKIP LOCKED) uk
      WHERE l.u = l.level
    ) every
    ORDER BY due LIMIT $1) pick
  WHERE l.level <= 9
  LIMIT $1
), capped AS (
  -- A limited queue's candidates beyond its tokens (found on several
  -- levels) are let go.
  SELECT c.job_id FROM (
    SELECT job_id, queue,
      row_number() OVER (PARTITION BY queue ORDER BY level DESC, due) AS n
    FROM candidates) c
  JOIN queue_caps k ON k.queue = c.queue
  WHERE c.n <= k.cap
), locked AS (
  SELECT l.id AS locked_id
  FROM capped c CROSS JOIN LATERAL (
    SELECT id FROM jobs WHERE id = c.job_id FOR UPDATE SKIP LOCKED) l
), claimed AS (
  UPDATE jobs SET status = 'processing', attempts = attempts + 1,
    lease_token = gen_random_uuid(), worker_id = $3,
    -- The job's run-time limit, else its queue's (none: NULL, and the
    -- lease is as asked).
    run_deadline = now() + coalesce(max_run_ms,
      (SELECT q.max_run_ms FROM queues q WHERE q.name = jobs.queue))
      * interval '1 millisecond',
    lease_expires_at = least(now() + $2 * interval '1 millisecond',
      now() + coalesce(max_run_ms,
        (SELECT q.max_run_ms FROM queues q WHERE q.name = jobs.queue))
        * interval '1 millisecond')
  WHERE id = ANY (ARRAY(SELECT locked_id FROM locked))
    AND status NOT IN ('processing', 'complete', 'failed', 'cancelled',
                       'scheduled')
  RETURNING id, user_id, source_channel_id, source_type, user_phone,
    payload, status, content_type, idempotency_key,
    extract(epoch FROM created_at), extract(epoch FROM updated_at), attempts,
    max_attempts, extract(epoch FROM run_after), lease_token,
    extract(epoch FROM lease_expires_at), worker_id, last_error, queue, ordered,
    priority, extract(epoch FROM cancel_requested_at), result,
    attempt_errors, max_run_ms, extract(epoch FROM run_deadline), seq,
    conversation
), counted AS (
  -- Each claimed head moves from pending to processing in its conversation
  -- (locked above), counted here in one pass; the flag tells the update
  -- trigger (jobs_count_updated) that this statement counted its rows.
  UPDATE conversations c
  SET pending_jobs = greatest(c.pending_jobs - n.jobs, 0),
      processing_jobs = c.processing_jobs + n.jobs
  FROM (SELECT conversation, count(*)::int AS jobs FROM claimed
        WHERE conversation IS NOT NULL GROUP BY conversation) n
  WHERE c.conversation = ANY (ARRAY(SELECT conversation FROM claimed
                                    WHERE conversation IS NOT NULL))
    AND c.conversation = n.conversation
  RETURNING set_config('jobqueue.statement_counted', 'on', true)
), tallied AS (
  -- The claimed jobs leave pending and enter processing in their queues'
  -- counters: the rows jobs_tally_updated would append, and the note that
  -- it need not.
  INSERT INTO queue_count_deltas (queue, status, minute, jobs, entered)
  SELECT n.queue, s.status, date_trunc('minute', now()), s.sign * n.jobs,
    CASE WHEN s.sign > 0 THEN n.jobs ELSE 0 END
  FROM (SELECT queue, count(*) AS jobs FROM claimed GROUP BY queue) n
  CROSS JOIN (VALUES ('pending', -1), ('processing', 1)) s(status, sign)
  RETURNING set_config('jobqueue.statement_tallied', 'on', true)
), spent AS (
  -- Tokens spent: one per job claimed of a limited queue.
  UPDATE queues q SET tokens = b.tokens - n.jobs,
    refilled_at = greatest(q.refilled_at, b.at)
  FROM bucket b JOIN (
    SELECT queue, count(*) AS jobs FROM claimed GROUP BY queue) n
    ON n.queue = b.name
  WHERE q.name = ANY (ARRAY(SELECT name FROM bucket)) AND q.name = b.name
)
SELECT * FROM claimed ORDER BY seq;

-- name: claim_any_order
-- Claims any due pending jobs of the queues, ignoring conversation order:
-- the highest priority first, then the oldest. A job whose conversation
-- row another session holds is skipped, not waited for (the count trigger
-- must update that row). Filters are checked on each job read, so a
-- filtered claim here also reads the queue's older jobs of other kinds.
WITH RECURSIVE limited AS (
  -- The paused or rate-limited queues among $5, with the tokens this
  -- statement's snapshot shows them: a primary key probe per queue, no
  -- lock.
  SELECT q.name, q.paused_at IS NOT NULL AS paused, least(q.burst, q.tokens
    + greatest(0, extract(epoch FROM clock_timestamp() - q.refilled_at))
    * q.jobs_per_second) AS tokens
  FROM unnest($5::text[]) k(name) CROSS JOIN LATERAL (
    SELECT * FROM queues q
    WHERE q.name = k.name
      AND (q.jobs_per_second IS NOT NULL OR q.paused_at IS NOT NULL)
    OFFSET 0) q
), bucket AS (
  -- The running ones with a whole token, locked in name order (two claims
  -- never deadlock) and read at their newest: their tokens as of now (a
  -- pause committed meanwhile leaves the queue out).
  SELECT b.name, b.at, least(b.burst, b.tokens + greatest(0, extract(epoch
    FROM b.at - b.refilled_at)) * b.jobs_per_second) AS tokens
  FROM (SELECT q.*, clock_timestamp() AS at FROM (
    SELECT name, jobs_per_second, burst, tokens, refilled_at FROM queues
    WHERE name = ANY (ARRAY(SELECT name FROM limited
                            WHERE tokens >= 1 AND NOT paused))
      AND jobs_per_second IS NOT NULL AND paused_at IS NULL
    ORDER BY name FOR UPDATE) q) b
), queue_caps AS (
  -- Each queue with the jobs the claim may take of it: $1, or a limited
  -- queue's whole tokens, or none of a paused one. A queue with none is
  -- not read.
  SELECT queue, cap FROM (
    SELECT k.name AS queue, CASE WHEN l.name IS NULL THEN $1::int
      WHEN l.paused OR b.name IS NULL THEN 0
      ELSE least($1, floor(b.tokens))::int END AS cap
    FROM unnest($5::text[]) k(name)
    LEFT JOIN limited l ON l.name = k.name
    LEFT JOIN bucket b ON b.name = k.name) c
  WHERE cap > 0
), keys AS (
  SELECT queue, cap FROM queue_caps
), levels(level) AS (
  -- The levels holding pending jobs, highest first. Starts above 9.
  SELECT 10::smallint
  UNION ALL
  SELECT n.p FROM levels l CROSS JOIN LATERAL (
    SELECT max(x.p) AS p FROM keys q
    CROSS JOIN LATERAL (
      SELECT j.priority AS p FROM jobs j
      WHERE j.queue = q.queue AND j.status = 'pending'
        AND j.priority < l.level
      ORDER BY j.priority DESC LIMIT 1) x) n
  WHERE l.level > 0 AND n.p IS NOT NULL
), candidates AS (
  SELECT pick.job_id, pick.queue, l.level, pick.seq AS due
  FROM levels l
  CROSS JOIN LATERAL (
    SELECT job_id, queue, seq FROM (
      SELECT o.job_id, q.queue, o.seq
      FROM keys q
      CROSS JOIN LATERAL (
        SELECT j.id AS job_id, j.seq
        FROM jobs j JOIN conversations c ON c.conversation = j.conversation
        WHERE j.queue = q.queue AND j.priority = l.level
          AND j.status = 'pending' AND j.run_after <= now()
          AND ($4 = '' OR j.source_type = $4)
          AND (cardinality($6::text[]) = 0 OR j.content_type = ANY ($6))
        ORDER BY j.seq LIMIT q.cap
        FOR UPDATE OF j, c SKIP LOCKED) o
      UNION ALL
      SELECT u.job_id, q.queue, u.seq
      FROM keys q
      CROSS JOIN LATERAL (
        SELECT j.id AS job_id, j.seq FROM jobs j
        WHERE j.queue = q.queue AND j.priority = l.level
          AND j.status = 'pending' AND j.conversation IS NULL
          AND j.run_after <= now() AND ($4 = '' OR j.source_type = $4)
          AND (cardinality($6::text[]) = 0 OR j.content_type = ANY ($6))
        ORDER BY j.run_after LIMIT q.cap
        FOR UPDATE OF j SKIP LOCKED) u
    ) every
    ORDER BY seq LIMIT $1) pick
  WHERE l.level <= 9
  LIMIT $1
), capped AS (
  -- A limited queue's candidates beyond its tokens (found on several
  -- levels) are let go.
  SELECT c.job_id FROM (
    SELECT job_id, queue,
      row_number() OVER (PARTITION BY queue ORDER BY level DESC, due) AS n
    FROM candidates) c
  JOIN queue_caps k ON k.queue = c.queue
  WHERE c.n <= k.cap
), claimed AS (
  UPDATE jobs SET status = 'processing', attempts = attempts + 1,
    lease_token = gen_random_uuid(), worker_id = $3,
    -- The job's run-time limit, else its queue's (none: NULL, and the
    -- lease is as asked).
    run_deadline = now() + coalesce(max_run_ms,
      (SELECT q.max_run_ms FROM queues q WHERE q.name = jobs.queue))
      * interval '1 millisecond',
    lease_expires_at = least(now() + $2 * interval '1 millisecond',
      now() + coalesce(max_run_ms,
        (SELECT q.max_run_ms FROM queues q WHERE q.name = jobs.queue))
        * interval '1 millisecond')
  WHERE id = ANY (ARRAY(SELECT job_id FROM capped))
    AND status NOT IN ('processing', 'complete', 'failed', 'cancelled',
                       'scheduled')
  RETURNING id, user_id, source_channel_id, source_type, user_phone,
    payload, status, content_type, idempotency_key,
    extract(epoch FROM created_at), extract(epoch FROM updated_at), attempts,
    max_attempts, extract(epoch FROM run_after), lease_token,
    extract(epoch FROM lease_expires_at), worker_id, last_error, queue, ordered,
    priority, extract(epoch FROM cancel_requested_at), result,
    attempt_errors, max_run_ms, extract(epoch FROM run_deadline), seq
), spent AS (
  -- Tokens spent: one per job claimed of a limited queue.
  UPDATE queues q SET tokens = b.tokens - n.jobs,
    refilled_at = greatest(q.refilled_at, b.at)
  FROM bucket b JOIN (
    SELECT queue, count(*) AS jobs FROM claimed GROUP BY queue) n
    ON n.queue = b.name
  WHERE q.name = ANY (ARRAY(SELECT name FROM bucket)) AND q.name = b.name
)
SELECT * FROM claimed ORDER BY seq;
