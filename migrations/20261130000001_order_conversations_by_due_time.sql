-- Ready conversations are ordered by when their head is due, so a claim
-- reads only conversations it can serve now: heads waiting out a backoff
-- sit behind now() in conversations_ready_idx and are never read. The
-- maintenance recount reads a bounded number of conversations.

COMMENT ON COLUMN public.conversations.ready_since IS 'When it last became ready (pending jobs, none processing), or when its head is due if later; claims serve the longest-due first and skip those not yet due.';

-- A job inserted without a position: as before, and a conversation it
-- makes ready is due when the job is.
CREATE OR REPLACE FUNCTION public.jobs_take_position() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  pending INTEGER := (NEW.status = 'pending')::int;
  processing INTEGER := (NEW.status = 'processing')::int;
BEGIN
  INSERT INTO public.conversations AS c
    (source_channel_id, last_position, pending_jobs, processing_jobs,
     ready_since)
  VALUES (NEW.source_channel_id, 1, pending, processing,
          greatest(now(), NEW.run_after))
  ON CONFLICT (source_channel_id) DO UPDATE
  SET last_position = c.last_position + 1,
      pending_jobs = c.pending_jobs + pending,
      processing_jobs = c.processing_jobs + processing,
      ready_since = CASE
        WHEN NOT (c.pending_jobs > 0 AND c.processing_jobs = 0)
         AND c.pending_jobs + pending > 0
         AND c.processing_jobs + processing = 0
        THEN greatest(now(), NEW.run_after) ELSE c.ready_since END
  RETURNING c.last_position INTO NEW.position;
  RETURN NEW;
END
$$;

-- One statement's status changes: as before, and a conversation that
-- becomes ready is due when its head is (a head failed into a backoff is
-- due when the backoff ends). The conversations are locked first, in the
-- order of their ids, as enqueue batches lock them: two statements that
-- change jobs of the same conversations (a claim ignoring order, a batched
-- completion, an enqueue batch) then never wait on each other in a cycle.
CREATE OR REPLACE FUNCTION public.jobs_count_conversations() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  ids TEXT[];
  pending_deltas INTEGER[];
  processing_deltas INTEGER[];
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
  SELECT array_agg(source_channel_id ORDER BY source_channel_id),
         array_agg(pending ORDER BY source_channel_id),
         array_agg(processing ORDER BY source_channel_id)
  INTO ids, pending_deltas, processing_deltas FROM deltas;
  IF ids IS NULL THEN
    RETURN NULL;  -- no status changed (a lease extended, say)
  END IF;
  PERFORM 1 FROM public.conversations WHERE source_channel_id = ANY (ids)
  ORDER BY source_channel_id FOR UPDATE;
  UPDATE public.conversations c
  SET pending_jobs = c.pending_jobs + d.pending,
      processing_jobs = c.processing_jobs + d.processing,
      ready_since = CASE
        WHEN NOT (c.pending_jobs > 0 AND c.processing_jobs = 0)
         AND c.pending_jobs + d.pending > 0
         AND c.processing_jobs + d.processing = 0
        THEN greatest(now(), (
          SELECT j.run_after FROM public.jobs j
          WHERE j.source_channel_id = c.source_channel_id
            AND j.status IN ('pending', 'processing')
          ORDER BY j.position LIMIT 1))
        ELSE c.ready_since END
  FROM unnest(ids, pending_deltas, processing_deltas)
    AS d(source_channel_id, pending, processing)
  WHERE c.source_channel_id = d.source_channel_id;
  RETURN NULL;
END
$$;

-- Recounts up to max_rows of the longest-ready conversations whose head is
-- not a pending job (none at all, or a processing one): counts that drifted
-- (a row counted by the insert trigger, then skipped by ON CONFLICT DO
-- NOTHING, or two concurrent enqueues of one idempotency key). Such a
-- conversation is never claimed, so it reaches the front. Reads at most
-- max_rows conversations and one head each, whatever the table holds. The
-- second statement's fresh snapshot sees every change committed before the
-- first one locked the rows.
CREATE OR REPLACE FUNCTION public.recount_conversations(max_rows INTEGER)
RETURNS INTEGER
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  channels TEXT[];
BEGIN
  SELECT array_agg(source_channel_id) INTO channels FROM (
    SELECT c.source_channel_id
    FROM (SELECT source_channel_id, ready_since FROM public.conversations
          WHERE pending_jobs > 0 AND processing_jobs = 0
          ORDER BY ready_since LIMIT max_rows) oldest
    JOIN public.conversations c USING (source_channel_id)
    LEFT JOIN LATERAL (
      SELECT j.status FROM public.jobs j
      WHERE j.source_channel_id = c.source_channel_id
        AND j.status IN ('pending', 'processing')
      ORDER BY j.position LIMIT 1) head ON true
    WHERE head.status IS DISTINCT FROM 'pending'
    FOR UPDATE OF c SKIP LOCKED) drifted;
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

-- Deleted jobs: as before, with the conversations locked in id order first.
CREATE OR REPLACE FUNCTION public.jobs_count_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  PERFORM 1 FROM public.conversations
  WHERE source_channel_id IN (SELECT source_channel_id FROM old_jobs)
  ORDER BY source_channel_id FOR UPDATE;
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
