-- Jobs: one per incoming message, handed to internal workers.
CREATE TABLE IF NOT EXISTS public.jobs (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id TEXT REFERENCES public.users (phone_number),
  source_channel_id TEXT NOT NULL
    CONSTRAINT jobs_source_channel_id_not_empty CHECK (source_channel_id <> ''),
  source_type TEXT NOT NULL
    CONSTRAINT jobs_source_type_check CHECK (source_type IN ('dm', 'group')),
  user_phone TEXT NOT NULL,
  payload JSONB NOT NULL
    CONSTRAINT jobs_payload_is_object CHECK (jsonb_typeof(payload) = 'object'),
  status TEXT NOT NULL DEFAULT 'pending'
    CONSTRAINT jobs_status_check
    CHECK (status IN ('pending', 'processing', 'complete', 'failed')),
  content_type TEXT NOT NULL DEFAULT 'text'
    CONSTRAINT jobs_content_type_check
    CHECK (content_type IN ('text', 'image', 'audio', 'video', 'document',
                            'location', 'other')),
  idempotency_key TEXT
    CONSTRAINT jobs_idempotency_key_key UNIQUE
    CONSTRAINT jobs_idempotency_key_length
    CHECK (length(idempotency_key) BETWEEN 1 AND 255),
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

COMMENT ON TABLE public.jobs IS 'Work items created from incoming messages.';
COMMENT ON COLUMN public.jobs.user_id IS 'The sender: users.phone_number.';
COMMENT ON COLUMN public.jobs.source_channel_id IS 'The conversation: sender address for dm, conversation id for group.';
COMMENT ON COLUMN public.jobs.source_type IS 'dm (one-to-one) or group.';
COMMENT ON COLUMN public.jobs.user_phone IS 'Sender phone, denormalized for quick access.';
COMMENT ON COLUMN public.jobs.payload IS 'The message as delivered, a JSON object.';
COMMENT ON COLUMN public.jobs.status IS 'pending, processing, complete or failed.';
COMMENT ON COLUMN public.jobs.content_type IS 'text, image, audio, video, document, location or other.';
COMMENT ON COLUMN public.jobs.idempotency_key IS 'Caller-chosen key (Twilio MessageSid); one job per key.';
COMMENT ON COLUMN public.jobs.created_at IS 'When the job was enqueued.';
COMMENT ON COLUMN public.jobs.updated_at IS 'When the job last changed.';

-- ListJobs pages newest first by (created_at, id), optionally per filter.
CREATE INDEX IF NOT EXISTS jobs_created_at_idx
  ON public.jobs (created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS jobs_user_id_created_at_idx
  ON public.jobs (user_id, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS jobs_source_channel_id_created_at_idx
  ON public.jobs (source_channel_id, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS jobs_status_created_at_idx
  ON public.jobs (status, created_at DESC, id DESC);

DROP TRIGGER IF EXISTS jobs_set_updated_at ON public.jobs;
CREATE TRIGGER jobs_set_updated_at BEFORE UPDATE ON public.jobs
  FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

ALTER TABLE public.jobs ENABLE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.jobs
  TO anon, authenticated, service_role;
DROP POLICY IF EXISTS jobs_service_role_all ON public.jobs;
CREATE POLICY jobs_service_role_all ON public.jobs
  FOR ALL TO service_role USING (true) WITH CHECK (true);
