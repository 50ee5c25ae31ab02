-- Dead letters: deliveries that could not become jobs, kept for operators.
CREATE TABLE IF NOT EXISTS public.dlq_jobs (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  source TEXT NOT NULL
    CONSTRAINT dlq_jobs_source_not_empty CHECK (source <> ''),
  delivery_id TEXT,
  reason TEXT NOT NULL
    CONSTRAINT dlq_jobs_reason_not_empty CHECK (reason <> ''),
  raw_payload JSONB NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 1
    CONSTRAINT dlq_jobs_attempts_positive CHECK (attempts >= 1),
  first_seen_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  last_seen_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  CONSTRAINT dlq_jobs_source_delivery_id_key UNIQUE (source, delivery_id)
);

COMMENT ON TABLE public.dlq_jobs IS 'Deliveries that could not become jobs.';
COMMENT ON COLUMN public.dlq_jobs.source IS 'Where it came from, e.g. twilio.messages.';
COMMENT ON COLUMN public.dlq_jobs.delivery_id IS 'The delivery''s own id (MessageSid); repeats bump attempts.';
COMMENT ON COLUMN public.dlq_jobs.reason IS 'Why it could not become a job.';
COMMENT ON COLUMN public.dlq_jobs.raw_payload IS 'Everything that was delivered.';
COMMENT ON COLUMN public.dlq_jobs.attempts IS 'How many times it was delivered.';
COMMENT ON COLUMN public.dlq_jobs.first_seen_at IS 'First delivery.';
COMMENT ON COLUMN public.dlq_jobs.last_seen_at IS 'Latest delivery.';

CREATE INDEX IF NOT EXISTS dlq_jobs_last_seen_at_idx
  ON public.dlq_jobs (last_seen_at DESC);

ALTER TABLE public.dlq_jobs ENABLE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.dlq_jobs
  TO anon, authenticated, service_role;
DROP POLICY IF EXISTS dlq_jobs_service_role_all ON public.dlq_jobs;
CREATE POLICY dlq_jobs_service_role_all ON public.dlq_jobs
  FOR ALL TO service_role USING (true) WITH CHECK (true);
