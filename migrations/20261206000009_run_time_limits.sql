-- Run-time limits: how long one attempt of a job may run, heartbeats or
-- not.
--
-- A job's own limit (jobs.max_run_ms), else its queue's default
-- (queues.max_run_ms), else none. A claim sets run_deadline to the claim's
-- time plus the limit, and a lease never reaches past it: the claim and
-- every ExtendLease end the lease at the earlier of the asked-for time and
-- run_deadline (storage/queries/jobs_claim.sql, leases.sql). Past it the
-- lease lapses whatever the worker does, and lease rescue fails the attempt
-- (storage/queries/maintenance.sql): back to pending after a backoff while
-- attempts are left, else failed with a dead letter, so the conversation
-- moves on.

ALTER TABLE public.jobs
  ADD COLUMN IF NOT EXISTS max_run_ms INTEGER
    CONSTRAINT jobs_max_run_ms_range
    CHECK (max_run_ms IS NULL OR max_run_ms BETWEEN 1000 AND 86400000),
  ADD COLUMN IF NOT EXISTS run_deadline TIMESTAMPTZ;
COMMENT ON COLUMN public.jobs.max_run_ms IS
  'How long one attempt may run, in milliseconds (1 s to 24 h); NULL: the queue''s default.';
COMMENT ON COLUMN public.jobs.run_deadline IS
  'When the current attempt must end (its lease never reaches past it); NULL when no limit applies.';

ALTER TABLE public.queues
  ADD COLUMN IF NOT EXISTS max_run_ms INTEGER
    CONSTRAINT queues_max_run_ms_range
    CHECK (max_run_ms IS NULL OR max_run_ms BETWEEN 1000 AND 86400000);
COMMENT ON COLUMN public.queues.max_run_ms IS
  'Default run-time limit of the queue''s jobs, in milliseconds; NULL: none.';
