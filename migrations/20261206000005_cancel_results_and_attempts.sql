-- Cancel, job results and attempt history.
--
-- 'cancelled' is a finished status like complete and failed: the
-- conversations' triggers count only pending and processing jobs, so a
-- cancelled job holds no place in its conversation. A processing job that
-- CancelJob asks to stop keeps running until its worker's next call (or its
-- lease lapses): cancel_requested_at says it was asked.
ALTER TABLE public.jobs DROP CONSTRAINT IF EXISTS jobs_status_check;
ALTER TABLE public.jobs ADD CONSTRAINT jobs_status_check
  CHECK (status IN ('pending', 'processing', 'complete', 'failed',
                    'cancelled'));
COMMENT ON COLUMN public.jobs.status IS
  'pending, processing, complete, failed or cancelled.';

ALTER TABLE public.jobs
  ADD COLUMN IF NOT EXISTS cancel_requested_at TIMESTAMPTZ,
  ADD COLUMN IF NOT EXISTS result JSONB
    CONSTRAINT jobs_result_is_object
    CHECK (result IS NULL OR jsonb_typeof(result) = 'object'),
  ADD COLUMN IF NOT EXISTS attempt_errors JSONB NOT NULL DEFAULT '[]'
    CONSTRAINT jobs_attempt_errors_is_array
    CHECK (jsonb_typeof(attempt_errors) = 'array');
COMMENT ON COLUMN public.jobs.cancel_requested_at IS
  'When CancelJob asked a processing job to stop; its worker learns it at its next call.';
COMMENT ON COLUMN public.jobs.result IS
  'What the worker returned with CompleteJob, a JSON object; NULL when none.';
COMMENT ON COLUMN public.jobs.attempt_errors IS
  'The newest failed attempts (at most 20), oldest first: {attempt, error, worker_id, failed_at}.';

-- The failed attempts a job keeps: `history` with `entry` appended, the
-- oldest dropped beyond max_kept (20, as docs/api.md says).
CREATE OR REPLACE FUNCTION public.append_attempt_error(
  history JSONB, entry JSONB)
RETURNS JSONB
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  max_kept CONSTANT INTEGER := 20;
  all_entries JSONB := coalesce(history, '[]'::jsonb) || jsonb_build_array(entry);
BEGIN
  RETURN coalesce((
    SELECT jsonb_agg(e ORDER BY n)
    FROM jsonb_array_elements(all_entries) WITH ORDINALITY AS t(e, n)
    WHERE n > jsonb_array_length(all_entries) - max_kept), '[]'::jsonb);
END
$$;

-- A cancelled job moved back to pending or processing by plain SQL takes a
-- position again, as a complete or failed one does.
DROP TRIGGER IF EXISTS jobs_position_reactivate ON public.jobs;
CREATE TRIGGER jobs_position_reactivate BEFORE UPDATE ON public.jobs
  FOR EACH ROW
  WHEN ((OLD.status IN ('complete', 'failed', 'cancelled')
         AND NEW.status IN ('pending', 'processing'))
        OR OLD.source_channel_id IS DISTINCT FROM NEW.source_channel_id
        OR OLD.queue IS DISTINCT FROM NEW.queue
        OR OLD.ordered IS DISTINCT FROM NEW.ordered)
  EXECUTE FUNCTION public.jobs_take_position();

-- Retention deletes finished jobs, completed or cancelled.
CREATE INDEX IF NOT EXISTS jobs_finished_updated_at_idx
  ON public.jobs (updated_at) WHERE status IN ('complete', 'cancelled');
DROP INDEX IF EXISTS public.jobs_completed_updated_at_idx;
