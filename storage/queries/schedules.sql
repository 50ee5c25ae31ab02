-- Recurring schedules (the schedules table) and the tick step every server
-- replica runs (pg_job_schedules.cc). A schedule's row is returned as
-- ScheduleFromRow reads it: name, queue, cron ('' for none), time zone (''
-- for none), interval in ms (0 for none), the job template (user phone,
-- first name, source channel id, source type, content type, payload text,
-- priority, ordered, max attempts), then next_run_at, last_run_at (NULL
-- before the first tick) and created_at in seconds since the epoch.
-- Blocks are named as in users.sql, which says how to run them by hand.

-- name: create_schedule
-- Inserts schedule $1 unless the name is taken: $2 queue, $3 cron ('' for
-- an interval schedule), $4 its time zone ('' for an interval schedule),
-- $5 interval in milliseconds (0 for a cron schedule), $6 user phone, $7
-- user first name, $8 source channel id, $9 source type, $10 content type,
-- $11 payload (JSON object), $12 priority, $13 ordered, $14 max attempts,
-- $15 first tick. Returns the row, whether it was inserted, and whether its
-- definition is $2..$14 (for a name that was taken). No row: the name was
-- taken by a schedule committed after this statement's snapshot; run it
-- again.
WITH inserted AS (
  INSERT INTO schedules (name, queue, cron, time_zone, interval_ms,
    user_phone, user_first_name, source_channel_id, source_type,
    content_type, payload, priority, ordered, max_attempts, next_run_at)
  VALUES ($1, $2, NULLIF($3, ''), NULLIF($4, ''), NULLIF($5::bigint, 0), $6,
    $7, $8, $9, $10, $11::jsonb, $12, $13, $14, $15::timestamptz)
  ON CONFLICT (name) DO NOTHING
  RETURNING name, queue, coalesce(cron, ''), coalesce(time_zone, ''),
    coalesce(interval_ms, 0), user_phone, user_first_name, source_channel_id,
    source_type, content_type, payload::text, priority, ordered,
    max_attempts, extract(epoch FROM next_run_at),
    extract(epoch FROM last_run_at), extract(epoch FROM created_at),
    true AS created, true AS same
)
SELECT * FROM inserted
UNION ALL
SELECT name, queue, coalesce(cron, ''), coalesce(time_zone, ''),
  coalesce(interval_ms, 0), user_phone, user_first_name, source_channel_id,
  source_type, content_type, payload::text, priority, ordered, max_attempts,
  extract(epoch FROM next_run_at), extract(epoch FROM last_run_at),
  extract(epoch FROM created_at), false,
  queue = $2 AND cron IS NOT DISTINCT FROM NULLIF($3, '')
    AND time_zone IS NOT DISTINCT FROM NULLIF($4, '')
    AND interval_ms IS NOT DISTINCT FROM NULLIF($5::bigint, 0)
    AND user_phone = $6 AND user_first_name = $7
    AND source_channel_id = $8 AND source_type = $9 AND content_type = $10
    AND payload = $11::jsonb AND priority = $12 AND ordered = $13
    AND max_attempts = $14
FROM schedules
WHERE name = $1 AND NOT EXISTS (SELECT 1 FROM inserted);

-- name: list_schedules
-- Up to $2 schedules by name, after name $1 ('' for the first page).
SELECT name, queue, coalesce(cron, ''), coalesce(time_zone, ''),
  coalesce(interval_ms, 0), user_phone, user_first_name, source_channel_id,
  source_type, content_type, payload::text, priority, ordered, max_attempts,
  extract(epoch FROM next_run_at), extract(epoch FROM last_run_at),
  extract(epoch FROM created_at)
FROM schedules
WHERE name > $1
ORDER BY name
LIMIT $2;

-- name: delete_schedule
-- Deletes schedule $1; returns its name, or no row when there is none.
DELETE FROM schedules WHERE name = $1 RETURNING name;

-- name: due_schedules
-- The tick step's first statement, in its transaction: locks up to $1 due
-- schedules no other session holds, the longest due first, and returns
-- them with the transaction's time (seconds since the epoch).
SELECT name, queue, coalesce(cron, ''), coalesce(time_zone, ''),
  coalesce(interval_ms, 0), user_phone, user_first_name, source_channel_id,
  source_type, content_type, payload::text, priority, ordered, max_attempts,
  extract(epoch FROM next_run_at), extract(epoch FROM last_run_at),
  extract(epoch FROM created_at), extract(epoch FROM now())
FROM schedules
WHERE next_run_at <= now()
ORDER BY next_run_at
LIMIT $1
FOR UPDATE SKIP LOCKED;

-- name: schedule_ran
-- In the tick step's transaction, after schedule $1's job was enqueued:
-- its next tick $2 and the tick just enqueued $3 (timestamps).
UPDATE schedules
SET next_run_at = $2::timestamptz, last_run_at = $3::timestamptz
WHERE name = $1;
