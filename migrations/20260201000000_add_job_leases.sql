-- Workers: claims with leases, retries with backoff, dead letters of failed
-- jobs, and first-in-first-out order per conversation.
ALTER TABLE public.jobs
  ADD COLUMN IF NOT EXISTS seq BIGINT GENERATED ALWAYS AS IDENTITY,
  ADD COLUMN IF NOT EXISTS attempts INTEGER NOT NULL DEFAULT 0
    CONSTRAINT jobs_attempts_not_negative CHECK (attempts >= 0),
  ADD COLUMN IF NOT EXISTS max_attempts INTEGER NOT NULL DEFAULT 5
    CONSTRAINT jobs_max_attempts_positive CHECK (max_attempts >= 1),
  ADD COLUMN IF NOT EXISTS run_after TIMESTAMPTZ NOT NULL DEFAULT now(),
  ADD COLUMN IF NOT EXISTS lease_token UUID,
  ADD COLUMN IF NOT EXISTS lease_expires_at TIMESTAMPTZ,
  ADD COLUMN IF NOT EXISTS worker_id TEXT,
  ADD COLUMN IF NOT EXISTS last_error TEXT;

ALTER TABLE public.jobs DROP CONSTRAINT IF EXISTS jobs_lease_only_when_processing;
ALTER TABLE public.jobs ADD CONSTRAINT jobs_lease_only_when_processing
  CHECK (lease_token IS NULL OR status = 'processing');

COMMENT ON COLUMN public.jobs.seq IS 'Enqueue order; FIFO per source_channel_id follows it.';
COMMENT ON COLUMN public.jobs.attempts IS 'Claims so far.';
COMMENT ON COLUMN public.jobs.max_attempts IS 'Claims allowed before the job fails for good.';
COMMENT ON COLUMN public.jobs.run_after IS 'Not claimable before this time (retry backoff).';
COMMENT ON COLUMN public.jobs.lease_token IS 'Fencing token of the current claim; NULL when not leased.';
COMMENT ON COLUMN public.jobs.lease_expires_at IS 'When the current claim lapses unless extended.';
COMMENT ON COLUMN public.jobs.worker_id IS 'Worker holding the current claim.';
COMMENT ON COLUMN public.jobs.last_error IS 'Error reported by the last failed attempt.';

-- The claim walks pending jobs in enqueue order and probes, per candidate,
-- for an earlier active job of its conversation: both indexes cover only
-- active rows, so finished jobs are never scanned.
CREATE INDEX IF NOT EXISTS jobs_pending_seq_idx
  ON public.jobs (seq) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS jobs_active_channel_seq_idx
  ON public.jobs (source_channel_id, seq)
  WHERE status IN ('pending', 'processing');
-- The sweeper finds lapsed leases; retention finds old completed jobs.
CREATE INDEX IF NOT EXISTS jobs_lease_expires_at_idx
  ON public.jobs (lease_expires_at) WHERE status = 'processing';
CREATE INDEX IF NOT EXISTS jobs_completed_updated_at_idx
  ON public.jobs (updated_at) WHERE status = 'complete';

ALTER TABLE public.dlq_jobs ADD COLUMN IF NOT EXISTS job_id UUID;
COMMENT ON COLUMN public.dlq_jobs.job_id IS 'The failed job this dead letter copies, if any.';

-- Wakes waiting claims when a job may have become claimable: a new job, a
-- job pending again, or a conversation's head that finished. Claims
-- themselves (to processing) notify no one. PostgreSQL folds identical
-- notifications of one transaction into one.
CREATE OR REPLACE FUNCTION public.notify_jobs_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('jobqueue_jobs_changed', '');
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS jobs_notify_insert ON public.jobs;
CREATE TRIGGER jobs_notify_insert AFTER INSERT ON public.jobs
  FOR EACH STATEMENT EXECUTE FUNCTION public.notify_jobs_changed();
DROP TRIGGER IF EXISTS jobs_notify_status ON public.jobs;
CREATE TRIGGER jobs_notify_status AFTER UPDATE OF status ON public.jobs
  FOR EACH ROW WHEN (NEW.status <> 'processing')
  EXECUTE FUNCTION public.notify_jobs_changed();
