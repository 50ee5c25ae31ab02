-- Scheduled jobs.
--
-- A job enqueued to run later than now is 'scheduled': it is in no
-- conversation (not counted, position 0) and in no claim index, so claims
-- never read it however many wait. Once due, a promoter (every replica,
-- storage/queries/schedule.sql) moves it to pending, and at that moment it
-- takes its conversation's next position: it waits behind the jobs
-- enqueued before it came due and never holds up one enqueued before its
-- time. The promoter gives the positions itself (in due order); any other
-- move from scheduled to pending or processing, by the service or by plain
-- SQL, takes the next position here, as complete and failed jobs made
-- active again do.
--
-- The status check is re-created with 'cancelled' too (20261206000005), so
-- one constraint allows every status.

ALTER TABLE public.jobs DROP CONSTRAINT IF EXISTS jobs_status_check;
ALTER TABLE public.jobs ADD CONSTRAINT jobs_status_check
  CHECK (status IN ('pending', 'processing', 'complete', 'failed',
                    'cancelled', 'scheduled'));
COMMENT ON COLUMN public.jobs.status IS 'pending, processing, complete, failed, cancelled or scheduled (waits for run_after, in no conversation).';
COMMENT ON COLUMN public.jobs.run_after IS 'Not claimed before this time: a retry''s backoff, or when a scheduled job is due.';

-- The promoter reads the due scheduled jobs, earliest first.
CREATE INDEX IF NOT EXISTS jobs_scheduled_due_idx
  ON public.jobs (run_after) WHERE status = 'scheduled';

-- As in 20261206000003; a scheduled job takes no position (it has none
-- until it is due), so inserting or editing one never touches its
-- conversation.
CREATE OR REPLACE FUNCTION public.jobs_take_position() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  IF NOT NEW.ordered OR NEW.status = 'scheduled' THEN
    NEW.position := 0;
    RETURN NEW;
  END IF;
  INSERT INTO public.conversations AS c (conversation, last_position)
  VALUES (NEW.queue || ' ' || NEW.source_channel_id, 1)
  ON CONFLICT (conversation)
  DO UPDATE SET last_position = c.last_position + 1
  RETURNING c.last_position INTO NEW.position;
  RETURN NEW;
END
$$;

-- As in 20261206000003; a scheduled job made active takes the next
-- position unless the statement gives it one (the promoter does).
DROP TRIGGER IF EXISTS jobs_position_reactivate ON public.jobs;
CREATE TRIGGER jobs_position_reactivate BEFORE UPDATE ON public.jobs
  FOR EACH ROW
  WHEN ((OLD.status IN ('complete', 'failed', 'cancelled')
         AND NEW.status IN ('pending', 'processing'))
        OR (OLD.status = 'scheduled'
            AND NEW.status IN ('pending', 'processing')
            AND NEW.position = OLD.position)
        OR OLD.source_channel_id IS DISTINCT FROM NEW.source_channel_id
        OR OLD.queue IS DISTINCT FROM NEW.queue
        OR OLD.ordered IS DISTINCT FROM NEW.ordered)
  EXECUTE FUNCTION public.jobs_take_position();
