-- Recurring schedules: each enqueues one job per tick, from a template of
-- EnqueueJob's fields, by a cron expression read in a time zone or by a
-- fixed interval. Every server replica runs the tick step: it takes the due
-- rows with FOR UPDATE SKIP LOCKED, enqueues each one's job with the
-- idempotency key schedule:<name>:<tick>, and moves next_run_at on, all in
-- one transaction, so a tick makes one job however many replicas run.
CREATE TABLE IF NOT EXISTS public.schedules (
  name TEXT PRIMARY KEY
    CONSTRAINT schedules_name_format
    CHECK (name ~ '^[A-Za-z0-9_.:-]{1,128}$'),
  queue TEXT NOT NULL DEFAULT 'default'
    CONSTRAINT schedules_queue_name
    CHECK (queue ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$'),
  cron TEXT
    CONSTRAINT schedules_cron_length CHECK (length(cron) BETWEEN 1 AND 256),
  time_zone TEXT
    CONSTRAINT schedules_time_zone_length
    CHECK (length(time_zone) BETWEEN 1 AND 64),
  interval_ms BIGINT
    CONSTRAINT schedules_interval_range
    CHECK (interval_ms BETWEEN 1000 AND 366 * 86400000::bigint),
  user_phone TEXT NOT NULL
    CONSTRAINT schedules_user_phone_e164 CHECK (user_phone ~ '^\+[0-9]{8,15}$'),
  user_first_name TEXT NOT NULL DEFAULT '',
  source_channel_id TEXT NOT NULL
    CONSTRAINT schedules_source_channel_id_not_empty
    CHECK (source_channel_id <> ''),
  source_type TEXT NOT NULL
    CONSTRAINT schedules_source_type_check CHECK (source_type IN ('dm', 'group')),
  content_type TEXT NOT NULL DEFAULT 'text'
    CONSTRAINT schedules_content_type_check
    CHECK (content_type IN ('text', 'image', 'audio', 'video', 'document',
                            'location', 'other')),
  payload JSONB NOT NULL DEFAULT '{}'
    CONSTRAINT schedules_payload_is_object
    CHECK (jsonb_typeof(payload) = 'object'),
  priority SMALLINT NOT NULL DEFAULT 0
    CONSTRAINT schedules_priority_range CHECK (priority BETWEEN 0 AND 9),
  ordered BOOLEAN NOT NULL DEFAULT true,
  max_attempts INTEGER NOT NULL DEFAULT 5
    CONSTRAINT schedules_max_attempts_range CHECK (max_attempts BETWEEN 1 AND 100),
  next_run_at TIMESTAMPTZ NOT NULL,
  last_run_at TIMESTAMPTZ,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  -- A cron expression (with its zone) or an interval, never both.
  CONSTRAINT schedules_one_kind CHECK (
    (cron IS NOT NULL AND time_zone IS NOT NULL AND interval_ms IS NULL)
    OR (cron IS NULL AND time_zone IS NULL AND interval_ms IS NOT NULL))
);

COMMENT ON TABLE public.schedules IS 'Recurring jobs: one job per tick, enqueued by whichever server replica takes the due row first.';
COMMENT ON COLUMN public.schedules.name IS 'Chosen by the caller: 1 to 128 letters, digits, _ . : -; part of each job''s idempotency key.';
COMMENT ON COLUMN public.schedules.queue IS 'The queue its jobs go to.';
COMMENT ON COLUMN public.schedules.cron IS 'Five-field cron expression or @hourly/@daily/@weekly/@monthly/@yearly; NULL for an interval schedule.';
COMMENT ON COLUMN public.schedules.time_zone IS 'IANA zone the cron expression is read in (UTC when none was given); NULL for an interval schedule.';
COMMENT ON COLUMN public.schedules.interval_ms IS 'Milliseconds between ticks (1 s to 366 days); NULL for a cron schedule.';
COMMENT ON COLUMN public.schedules.next_run_at IS 'The next tick; the tick step takes rows whose next_run_at has passed.';
COMMENT ON COLUMN public.schedules.last_run_at IS 'The tick of the last job enqueued; NULL before the first.';

-- The tick step reads the due rows by next_run_at.
CREATE INDEX IF NOT EXISTS schedules_next_run_at_idx
  ON public.schedules (next_run_at);

DROP TRIGGER IF EXISTS schedules_set_updated_at ON public.schedules;
CREATE TRIGGER schedules_set_updated_at BEFORE UPDATE ON public.schedules
  FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

ALTER TABLE public.schedules ENABLE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.schedules
  TO anon, authenticated, service_role;
DROP POLICY IF EXISTS schedules_service_role_all ON public.schedules;
CREATE POLICY schedules_service_role_all ON public.schedules
  FOR ALL TO service_role USING (true) WITH CHECK (true);
