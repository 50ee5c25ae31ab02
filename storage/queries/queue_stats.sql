-- What the metrics endpoint reads of the jobs table at each scrape
-- (QueueStats), in one read-only transaction.
-- Blocks are named as in users.sql, which says how to run them by hand.

-- name: stats_active_jobs
-- Jobs that are not complete, by status.
SELECT status, count(*) FROM jobs
WHERE status IN ('pending', 'processing', 'failed', 'cancelled', 'scheduled')
GROUP BY status;

-- name: stats_complete_jobs
-- Completed jobs, counted (when the table is small enough).
SELECT count(*) FROM jobs WHERE status = 'complete';

-- name: stats_estimated_jobs
-- The planner's estimate of the jobs table's rows; -1 before it was first
-- vacuumed or analyzed.
SELECT reltuples::bigint FROM pg_class WHERE oid = 'public.jobs'::regclass;

-- name: stats_oldest_pending_age
-- Seconds since the oldest pending job was created, 0 when none; served by
-- jobs_status_created_at_idx (the first entry of 'pending').
SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)
  ::double precision
FROM jobs WHERE status = 'pending';

-- name: stats_queue_pauses
-- Every queue with settings (a row in queues), and whether it is paused:
-- a resumed queue answers false, so its gauge drops to 0.
SELECT name, paused_at IS NOT NULL FROM queues ORDER BY name;
