-- What an operator sees of the queues (GetQueueStats, ListConversations),
-- read from the counters (queue_counts plus the deltas not folded yet,
-- migrations/20261206000012_queue_counters.sql) and from index probes,
-- never from a count of jobs.
-- Blocks are named as in users.sql, which says how to run them by hand.

-- name: queue_stats_counts
-- Queue $1 ('' for every queue with jobs or settings): its jobs by status
-- (pending, processing, scheduled, failed, cancelled, complete), seconds
-- since its oldest pending job was created (0 when none; the first of each
-- priority level in jobs_pending_queue_priority_seq_idx, so enqueue order),
-- its rate limit (jobs_per_second, burst; NULL when none) with the whole
-- tokens it has now, paused_at in epoch seconds and pause_reason, and the
-- start of the current minute in epoch seconds. By queue name.
WITH counts AS (
  SELECT queue, status, sum(jobs) AS jobs FROM (
    SELECT queue, status, jobs FROM queue_counts
    UNION ALL
    SELECT queue, status, jobs FROM queue_count_deltas) c
  WHERE $1::text = '' OR queue = $1::text
  GROUP BY queue, status
), names AS (
  SELECT queue FROM counts WHERE jobs <> 0
  UNION
  SELECT name FROM queues WHERE $1::text = '' OR name = $1::text
  UNION
  SELECT $1::text WHERE $1::text <> ''
)
SELECT n.queue,
  coalesce(sum(c.jobs) FILTER (WHERE c.status = 'pending'), 0),
  coalesce(sum(c.jobs) FILTER (WHERE c.status = 'processing'), 0),
  coalesce(sum(c.jobs) FILTER (WHERE c.status = 'scheduled'), 0),
  coalesce(sum(c.jobs) FILTER (WHERE c.status = 'failed'), 0),
  coalesce(sum(c.jobs) FILTER (WHERE c.status = 'cancelled'), 0),
  coalesce(sum(c.jobs) FILTER (WHERE c.status = 'complete'), 0),
  (SELECT coalesce(extract(epoch FROM now() - min(o.created_at)), 0)
     ::double precision
   FROM generate_series(0, 9) p(level) CROSS JOIN LATERAL (
     SELECT j.created_at FROM jobs j
     WHERE j.status = 'pending' AND j.queue = n.queue
       AND j.priority = p.level
     ORDER BY j.seq LIMIT 1) o),
  min(q.jobs_per_second), min(q.burst),
  min(floor(least(q.burst, q.tokens + greatest(0, extract(epoch
    FROM clock_timestamp() - q.refilled_at)) * q.jobs_per_second))),
  min(extract(epoch FROM q.paused_at)), min(q.pause_reason),
  extract(epoch FROM date_trunc('minute', now()))
FROM names n
LEFT JOIN counts c ON c.queue = n.queue
LEFT JOIN queues q ON q.name = n.queue
GROUP BY n.queue
ORDER BY n.queue;

-- name: queue_stats_minutes
-- Of queue $1 ('' for every queue), the jobs that moved into processing
-- (claims), complete and failed in each of the last $2 minutes (the
-- current one included), in epoch seconds of the minute's start; a minute
-- with none has no row. By queue, then minute.
SELECT queue, extract(epoch FROM minute),
  coalesce(sum(entered) FILTER (WHERE status = 'processing'), 0),
  coalesce(sum(entered) FILTER (WHERE status = 'complete'), 0),
  coalesce(sum(entered) FILTER (WHERE status = 'failed'), 0)
FROM (
  SELECT queue, minute, status, entered FROM queue_throughput
  UNION ALL
  SELECT queue, minute, status, entered FROM queue_count_deltas
  WHERE entered <> 0) t
WHERE ($1::text = '' OR queue = $1::text)
  AND minute >= date_trunc('minute', now())
                - ($2::int - 1) * interval '1 minute'
GROUP BY queue, minute
ORDER BY queue, minute;

-- name: list_conversations
-- Conversations of queue $1 ('' for every queue) with pending jobs, the
-- one waiting longest first: by (ready_since, conversation) after the
-- cursor ($2 ready_since in microseconds since the epoch, NULL for the
-- first page; $3 the conversation key, '' for the first page), at most
-- $4. Each queue's are read from conversations_waiting_idx (every queue's
-- found by skipping through it, one probe per queue), so a page reads
-- O(queues x page) entries.
-- Returns the conversation, its queue and channel, ready_since (epoch
-- seconds, then microseconds for the cursor), its pending and processing
-- counts, the queue's pause and whether it has no whole token now
-- (rate-limited), and its head (the job columns of get_job; NULL when the
-- counts drifted and it has none).
WITH RECURSIVE waiting_queues(queue) AS (
  (SELECT queue FROM conversations
   WHERE waiting
   ORDER BY queue LIMIT 1)
  UNION ALL
  SELECT (SELECT c.queue FROM conversations c
          WHERE c.waiting
            AND c.queue > w.queue
          ORDER BY c.queue LIMIT 1)
  FROM waiting_queues w WHERE w.queue IS NOT NULL
), names AS (
  SELECT queue FROM waiting_queues
  WHERE $1::text = '' AND queue IS NOT NULL
  UNION ALL
  SELECT $1::text WHERE $1::text <> ''
), page AS (
  SELECT w.* FROM names n CROSS JOIN LATERAL (
    SELECT c.conversation, c.queue, c.source_channel_id, c.ready_since,
      c.pending_jobs, c.processing_jobs, c.first_position
    FROM conversations c
    WHERE c.queue = n.queue AND c.waiting
      -- No OR: the cursor stays an index condition, so a deep page starts
      -- where the last one ended.
      AND (c.ready_since, c.conversation)
          > (coalesce('epoch'::timestamptz
                      + $2::bigint * interval '1 microsecond', '-infinity'),
             $3::text)
    ORDER BY c.ready_since, c.conversation
    LIMIT $4::int) w
  ORDER BY w.ready_since, w.conversation
  LIMIT $4::int
)
SELECT p.conversation, p.queue, p.source_channel_id,
  extract(epoch FROM p.ready_since),
  (extract(epoch FROM p.ready_since) * 1000000)::bigint,
  p.pending_jobs, p.processing_jobs,
  extract(epoch FROM q.paused_at),
  q.jobs_per_second IS NOT NULL AND least(q.burst, q.tokens + greatest(0,
    extract(epoch FROM clock_timestamp() - q.refilled_at))
    * q.jobs_per_second) < 1,
  h.*
FROM page p
LEFT JOIN queues q ON q.name = p.queue
LEFT JOIN LATERAL (
  SELECT id, user_id, source_channel_id, source_type, user_phone, payload,
    status, content_type, idempotency_key, extract(epoch FROM created_at),
    extract(epoch FROM updated_at), attempts, max_attempts,
    extract(epoch FROM run_after), lease_token,
    extract(epoch FROM lease_expires_at), worker_id, last_error, queue,
    ordered, priority, extract(epoch FROM cancel_requested_at), result,
    attempt_errors, max_run_ms, extract(epoch FROM run_deadline)
  FROM jobs j
  WHERE j.conversation = p.conversation
    AND j.status IN ('pending', 'processing')
    AND j.position >= p.first_position
  ORDER BY j.position LIMIT 1) h ON true
ORDER BY p.ready_since, p.conversation;
