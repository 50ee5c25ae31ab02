-- Conversation order by commit order, and claims that touch only the heads
-- of conversations that can take work.
--
-- Every job of a conversation (source_channel_id) gets a position from the
-- conversation's row, which the inserting transaction keeps locked until it
-- commits: positions follow commit order, across batches and replicas. A
-- job made pending again from failed or complete (RetryJob) goes to the end
-- of its conversation with a new position. The head of a conversation is its
-- pending or processing job with the lowest position; a conversation takes
-- work only while none of its jobs is processing. Triggers keep the counts
-- below whatever changes jobs (the service or plain SQL), so a claim reads
-- only the conversations that are ready, however long a blocked one is.
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

-- A new job, or one made active again from failed or complete, takes the
-- next position of its conversation. Locking the conversation's row until
-- commit is what makes positions follow commit order.
CREATE OR REPLACE FUNCTION public.jobs_take_position() RETURNS trigger
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
  FOR EACH ROW EXECUTE FUNCTION public.jobs_take_position();
DROP TRIGGER IF EXISTS jobs_position_reactivate ON public.jobs;
CREATE TRIGGER jobs_position_reactivate BEFORE UPDATE ON public.jobs
  FOR EACH ROW
  WHEN ((OLD.status IN ('complete', 'failed')
         AND NEW.status IN ('pending', 'processing'))
        OR OLD.source_channel_id IS DISTINCT FROM NEW.source_channel_id)
  EXECUTE FUNCTION public.jobs_take_position();

-- Applies one statement's changes to the conversations' counts. A
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

-- Statement triggers see an empty table for the side a statement lacks.
CREATE OR REPLACE FUNCTION public.jobs_count_inserted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  UPDATE public.conversations c
  SET pending_jobs = c.pending_jobs + d.pending,
      processing_jobs = c.processing_jobs + d.processing,
      ready_since = CASE
        WHEN NOT (c.pending_jobs > 0 AND c.processing_jobs = 0)
         AND c.pending_jobs + d.pending > 0
         AND c.processing_jobs + d.processing = 0
        THEN now() ELSE c.ready_since END
  FROM (SELECT source_channel_id,
               count(*) FILTER (WHERE status = 'pending')::int AS pending,
               count(*) FILTER (WHERE status = 'processing')::int AS processing
        FROM new_jobs GROUP BY source_channel_id) d
  WHERE c.source_channel_id = d.source_channel_id
    AND (d.pending <> 0 OR d.processing <> 0);
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION public.jobs_count_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  UPDATE public.conversations c
  SET pending_jobs = c.pending_jobs - d.pending,
      processing_jobs = c.processing_jobs - d.processing,
      ready_since = CASE
        WHEN NOT (c.pending_jobs > 0 AND c.processing_jobs = 0)
         AND c.pending_jobs - d.pending > 0
         AND c.processing_jobs - d.processing = 0
        THEN now() ELSE c.ready_since END
  FROM (SELECT source_channel_id,
               count(*) FILTER (WHERE status = 'pending')::int AS pending,
               count(*) FILTER (WHERE status = 'processing')::int AS processing
        FROM old_jobs GROUP BY source_channel_id) d
  WHERE c.source_channel_id = d.source_channel_id
    AND (d.pending <> 0 OR d.processing <> 0);
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS jobs_count_insert ON public.jobs;
CREATE TRIGGER jobs_count_insert AFTER INSERT ON public.jobs
  REFERENCING NEW TABLE AS new_jobs
  FOR EACH STATEMENT EXECUTE FUNCTION public.jobs_count_inserted();
DROP TRIGGER IF EXISTS jobs_count_update ON public.jobs;
CREATE TRIGGER jobs_count_update AFTER UPDATE ON public.jobs
  REFERENCING OLD TABLE AS old_jobs NEW TABLE AS new_jobs
  FOR EACH STATEMENT EXECUTE FUNCTION public.jobs_count_conversations();
DROP TRIGGER IF EXISTS jobs_count_delete ON public.jobs;
CREATE TRIGGER jobs_count_delete AFTER DELETE ON public.jobs
  REFERENCING OLD TABLE AS old_jobs
  FOR EACH STATEMENT EXECUTE FUNCTION public.jobs_count_deleted();
