-- Conversation order by commit order, and claims that touch only the heads
-- of conversations that can take work.
--
-- Every job of a conversation (source_channel_id) gets a position from the
-- conversation's row, which the inserting transaction keeps locked until it
-- commits: positions follow commit order, across batches and replicas. A
-- job made pending again from failed or complete (RetryJob) goes to the end
-- of its conversation with a new position. The head of a conversation is its
-- pending or processing job with the lowest position; a conversation takes
-- work only while none of its jobs is processing. The counts below are kept
-- by the service's enqueue statements and by triggers on jobs (for plain SQL
-- too), so a claim reads only the conversations that are ready, however
-- long a blocked one is.
CREATE TABLE IF NOT EXISTS public.conversations (
  source_channel_id TEXT PRIMARY KEY,
  last_position BIGINT NOT NULL DEFAULT 0,
  pending_jobs INTEGER NOT NULL DEFAULT 0
    CONSTRAINT conversations_pending_jobs_not_negative CHECK (pending_jobs >= 0),
  processing_jobs INTEGER NOT NULL DEFAULT 0
    CONSTRAINT conversations_processing_jobs_not_negative
    CHECK (processing_jobs >= 0),
  ready_since TIMESTAMPTZ NOT NULL DEFAULT now()
);

COMMENT ON TABLE public.conversations IS 'Per source_channel_id: order and readiness of its jobs (kept by triggers on jobs).';
COMMENT ON COLUMN public.conversations.last_position IS 'Position given to the conversation''s latest job.';
COMMENT ON COLUMN public.conversations.pending_jobs IS 'Its jobs that are pending.';
COMMENT ON COLUMN public.conversations.processing_jobs IS 'Its jobs that are processing.';
COMMENT ON COLUMN public.conversations.ready_since IS 'When it last became ready (pending jobs, none processing); claims serve the longest-ready first.';

CREATE INDEX IF NOT EXISTS conversations_ready_idx
  ON public.conversations (ready_since)
  WHERE pending_jobs > 0 AND processing_jobs = 0;

ALTER TABLE public.conversations ENABLE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.conversations
  TO anon, authenticated, service_role;
DROP POLICY IF EXISTS conversations_service_role_all ON public.conversations;
CREATE POLICY conversations_service_role_all ON public.conversations
  FOR ALL TO service_role USING (true) WITH CHECK (true);

ALTER TABLE public.jobs ADD COLUMN IF NOT EXISTS position BIGINT;
COMMENT ON COLUMN public.jobs.position IS 'Place in its conversation, in commit order; a retried job takes a new one at the end.';

-- Existing jobs keep their enqueue order.
WITH numbered AS (
  SELECT id, row_number() OVER (PARTITION BY source_channel_id ORDER BY seq) AS n
  FROM public.jobs WHERE position IS NULL
)
UPDATE public.jobs SET position = numbered.n FROM numbered
WHERE jobs.id = numbered.id;
INSERT INTO public.conversations
  (source_channel_id, last_position, pending_jobs, processing_jobs)
SELECT source_channel_id, max(position),
       count(*) FILTER (WHERE status = 'pending'),
       count(*) FILTER (WHERE status = 'processing')
FROM public.jobs GROUP BY source_channel_id
ON CONFLICT (source_channel_id) DO NOTHING;
ALTER TABLE public.jobs ALTER COLUMN position SET NOT NULL;

-- The head of each conversation, one index probe; replaces the seq index.
CREATE INDEX IF NOT EXISTS jobs_active_channel_position_idx
  ON public.jobs (source_channel_id, position)
  WHERE status IN ('pending', 'processing');
DROP INDEX IF EXISTS public.jobs_active_channel_seq_idx;

-- A job inserted without a position (plain SQL; the service gives its
-- own) takes the next one of its conversation and counts there. Locking the
-- conversation's row until commit is what makes positions follow commit
-- order. (A row then skipped by ON CONFLICT DO NOTHING stays counted until
-- the maintenance loop recounts its conversation.)
CREATE OR REPLACE FUNCTION public.jobs_take_position() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  pending INTEGER := (NEW.status = 'pending')::int;
  processing INTEGER := (NEW.status = 'processing')::int;
BEGIN
  INSERT INTO public.conversations AS c
    (source_channel_id, last_position, pending_jobs, processing_jobs)
  VALUES (NEW.source_channel_id, 1, pending, processing)
  ON CONFLICT (source_channel_id) DO UPDATE
  SET last_position = c.last_position + 1,
      pending_jobs = c.pending_jobs + pending,
      processing_jobs = c.processing_jobs + processing,
      ready_since = CASE
        WHEN NOT (c.pending_jobs > 0 AND c.processing_jobs = 0)
         AND c.pending_jobs + pending > 0
         AND c.processing_jobs + processing = 0
        THEN now() ELSE c.ready_since END
  RETURNING c.last_position INTO NEW.position;
  RETURN NEW;
END
$$;

-- A job made active again from failed or complete goes to the end of its
-- conversation (its counts follow from the status change, below).
CREATE OR REPLACE FUNCTION public.jobs_take_last_position() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  INSERT INTO public.conversations AS c (source_channel_id, last_position)
  VALUES (NEW.source_channel_id, 1)
  ON CONFLICT (source_channel_id)
  DO UPDATE SET last_position = c.last_position + 1
  RETURNING c.last_position INTO NEW.position;
  RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS jobs_position_insert ON public.jobs;
CREATE TRIGGER jobs_position_insert BEFORE INSERT ON public.jobs
  FOR EACH ROW WHEN (NEW.position IS NULL)
  EXECUTE FUNCTION public.jobs_take_position();
DROP TRIGGER IF EXISTS jobs_position_reactivate ON public.jobs;
CREATE TRIGGER jobs_position_reactivate BEFORE UPDATE ON public.jobs
  FOR EACH ROW
  WHEN ((OLD.status IN ('complete', 'failed')
         AND NEW.status IN ('pending', 'processing'))
        OR OLD.source_channel_id IS DISTINCT FROM NEW.source_channel_id)
  EXECUTE FUNCTION public.jobs_take_last_position();

-- Applies one statement's status changes to the conversations' counts. A
-- conversation that becomes ready goes to the back of the line.
CREATE OR REPLACE FUNCTION public.jobs_count_conversations() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  WITH changes AS (
    SELECT source_channel_id,
           (status = 'pending')::int AS pending,
           (status = 'processing')::int AS processing
    FROM new_jobs
    UNION ALL
    SELECT source_channel_id,
           -(status = 'pending')::int, -(status = 'processing')::int
    FROM old_jobs
  ), deltas AS (
    SELECT source_channel_id, sum(pending)::int AS pending,
           sum(processing)::int AS processing
    FROM changes GROUP BY source_channel_id
    HAVING sum(pending) <> 0 OR sum(processing) <> 0
  )
  UPDATE public.conversations c
  SET pending_jobs = c.pending_jobs + d.pending,
      processing_jobs = c.processing_jobs + d.processing,
      ready_since = CASE
        WHEN NOT (c.pending_jobs > 0 AND c.processing_jobs = 0)
         AND c.pending_jobs + d.pending > 0
         AND c.processing_jobs + d.processing = 0
        THEN now() ELSE c.ready_since END
  FROM deltas d WHERE c.source_channel_id = d.source_channel_id;
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION public.jobs_count_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  UPDATE public.conversations c
  SET pending_jobs = c.pending_jobs - d.pending,
      processing_jobs = c.processing_jobs - d.processing
  FROM (SELECT source_channel_id,
               count(*) FILTER (WHERE status = 'pending')::int AS pending,
               count(*) FILTER (WHERE status = 'processing')::int AS processing
        FROM old_jobs GROUP BY source_channel_id) d
  WHERE c.source_channel_id = d.source_channel_id
    AND (d.pending <> 0 OR d.processing <> 0);
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS jobs_count_update ON public.jobs;
CREATE TRIGGER jobs_count_update AFTER UPDATE ON public.jobs
  REFERENCING OLD TABLE AS old_jobs NEW TABLE AS new_jobs
  FOR EACH STATEMENT EXECUTE FUNCTION public.jobs_count_conversations();
-- TRUNCATE removes every job without row triggers: no conversation has
-- any left.
CREATE OR REPLACE FUNCTION public.jobs_count_truncated() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  UPDATE public.conversations SET pending_jobs = 0, processing_jobs = 0
  WHERE pending_jobs <> 0 OR processing_jobs <> 0;
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS jobs_count_truncate ON public.jobs;
CREATE TRIGGER jobs_count_truncate AFTER TRUNCATE ON public.jobs
  FOR EACH STATEMENT EXECUTE FUNCTION public.jobs_count_truncated();
DROP TRIGGER IF EXISTS jobs_count_delete ON public.jobs;
CREATE TRIGGER jobs_count_delete AFTER DELETE ON public.jobs
  REFERENCING OLD TABLE AS old_jobs
  FOR EACH STATEMENT EXECUTE FUNCTION public.jobs_count_deleted();

-- Recounts up to max_rows conversations that look ready but have no pending
-- job (a row counted by the trigger, then skipped by ON CONFLICT DO NOTHING,
-- or two concurrent enqueues of one idempotency key). The maintenance loop
-- runs it. The second statement's fresh snapshot sees every change to the
-- conversations committed before the first one locked them.
CREATE OR REPLACE FUNCTION public.recount_conversations(max_rows INTEGER)
RETURNS INTEGER
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  channels TEXT[];
BEGIN
  SELECT array_agg(source_channel_id) INTO channels FROM (
    SELECT source_channel_id FROM public.conversations c
    WHERE pending_jobs > 0 AND processing_jobs = 0
      AND NOT EXISTS (SELECT 1 FROM public.jobs j
                      WHERE j.source_channel_id = c.source_channel_id
                        AND j.status = 'pending')
    ORDER BY ready_since LIMIT max_rows
    FOR UPDATE SKIP LOCKED) phantom;
  IF channels IS NULL THEN
    RETURN 0;
  END IF;
  UPDATE public.conversations c
  SET pending_jobs = (SELECT count(*) FROM public.jobs j
                      WHERE j.source_channel_id = c.source_channel_id
                        AND j.status = 'pending'),
      processing_jobs = (SELECT count(*) FROM public.jobs j
                         WHERE j.source_channel_id = c.source_channel_id
                           AND j.status = 'processing')
  WHERE source_channel_id = ANY (channels);
  RETURN cardinality(channels);
END
$$;
