-- Pausing a queue (PauseQueue, ResumeQueue): while a downstream service is
-- broken, claims skip the queue on every replica; enqueues still land.
--
-- A queue is paused while queues.paused_at is set; a queue without a row
-- is not. The claims read the queue's row in their own statement (the
-- primary key probe they make for rate limits, storage/queries/
-- jobs_claim.sql) and leave a paused queue out before any lookup of its
-- jobs: no job of it is read, locked or handed out, and its conversations
-- keep their order for when it is resumed. A job already processing keeps
-- its lease. Resuming notifies jobqueue_jobs_changed (the channel the jobs
-- triggers use), so waiting claims on every replica look again at once.
-- A rate-limited queue's bucket columns are left alone: its CHECK holds for
-- a row that only carries a pause (all four NULL).

ALTER TABLE public.queues
  ADD COLUMN IF NOT EXISTS paused_at TIMESTAMPTZ,
  ADD COLUMN IF NOT EXISTS pause_reason TEXT
    CONSTRAINT queues_pause_reason CHECK (
      pause_reason IS NULL
      OR (paused_at IS NOT NULL
          AND octet_length(pause_reason) BETWEEN 1 AND 1024));
COMMENT ON COLUMN public.queues.paused_at IS
  'When the queue was paused (claims skip it until ResumeQueue); NULL: running.';
COMMENT ON COLUMN public.queues.pause_reason IS
  'Why it was paused, as PauseQueue was told (1 to 1024 bytes); NULL: none given or running.';
