-- Claims filtered by source type or content type read only the ready work
-- of the kinds they ask for.
--
-- A ready conversation is ranked by its head: its priority (20261206000003)
-- and now its source type and content type, kept wherever its head is
-- found (here, the enqueues in storage/queries/jobs_enqueue.sql, the
-- repair). A filtered claim reads, for each queue, kind and level it asks
-- for, only the ready conversations of that kind: one whose head is of
-- another kind is not read, and its later jobs wait behind their head as
-- always. Unordered jobs are indexed by kind too. Claims without a filter
-- keep the indexes by queue and level alone, so they do not pay one probe
-- per kind.

ALTER TABLE public.conversations
  ADD COLUMN IF NOT EXISTS head_source_type TEXT,
  ADD COLUMN IF NOT EXISTS head_content_type TEXT;
COMMENT ON COLUMN public.conversations.head_source_type IS 'Source type of its head (its first active job) while it is ready.';
COMMENT ON COLUMN public.conversations.head_content_type IS 'Content type of its head while it is ready.';

UPDATE public.conversations c
SET head_source_type = h.source_type, head_content_type = h.content_type
FROM public.conversations r CROSS JOIN LATERAL (
  SELECT j.source_type, j.content_type FROM public.jobs j
  WHERE j.conversation = r.conversation
    AND j.status IN ('pending', 'processing')
    AND j.position >= r.first_position
  ORDER BY j.position LIMIT 1) h
WHERE r.conversation = c.conversation;

CREATE INDEX IF NOT EXISTS conversations_queue_kind_ready_idx
  ON public.conversations
    (queue, head_source_type, head_content_type, head_priority, ready_since)
  WHERE pending_jobs > 0 AND processing_jobs = 0;

CREATE INDEX IF NOT EXISTS jobs_unordered_kind_due_idx
  ON public.jobs (queue, source_type, content_type, priority, run_after)
  WHERE status = 'pending' AND conversation IS NULL;

-- As in 20261206000003; a ready conversation takes its head's kind too.
CREATE OR REPLACE FUNCTION public.apply_job_changes(
  ids TEXT[], pending_deltas INTEGER[], processing_deltas INTEGER[],
  top_positions BIGINT[], low_positions BIGINT[])
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  locked INTEGER;
BEGIN
  PERFORM 1 FROM public.conversations WHERE conversation = ANY (ids)
  ORDER BY conversation FOR UPDATE;
  GET DIAGNOSTICS locked = ROW_COUNT;
  IF locked < cardinality(ids) THEN
    INSERT INTO public.conversations (conversation)
    SELECT u.key FROM unnest(ids) u(key) ORDER BY u.key
    ON CONFLICT (conversation) DO NOTHING;
    PERFORM 1 FROM public.conversations WHERE conversation = ANY (ids)
    ORDER BY conversation FOR UPDATE;
  END IF;
  WITH next AS (
    SELECT d.*,
           c.pending_jobs > 0 AND c.processing_jobs = 0 AS ready_before,
           c.pending_jobs + d.pending > 0
             AND c.processing_jobs + d.processing <= 0 AS ready_after,
           least(c.first_position, d.low) AS from_position
    FROM unnest(ids, pending_deltas, processing_deltas, top_positions,
                low_positions) AS d(key, pending, processing, top, low)
    JOIN public.conversations c ON c.conversation = d.key
  ), heads AS (
    SELECT n.key, h.run_after, h.position, h.priority, h.source_type,
           h.content_type
    FROM next n CROSS JOIN LATERAL (
      SELECT j.run_after, j.position, j.priority, j.source_type,
             j.content_type
      FROM public.jobs j
      WHERE j.conversation = n.key
        AND j.status IN ('pending', 'processing')
        AND j.position >= n.from_position
      ORDER BY j.position LIMIT 1) h
    WHERE n.ready_after
  )
  UPDATE public.conversations c
  SET pending_jobs = greatest(c.pending_jobs + n.pending, 0),
      processing_jobs = greatest(c.processing_jobs + n.processing, 0),
      last_position = greatest(c.last_position, n.top),
      first_position = coalesce(h.position, n.from_position),
      head_priority = coalesce(h.priority, c.head_priority),
      head_source_type = coalesce(h.source_type, c.head_source_type),
      head_content_type = coalesce(h.content_type, c.head_content_type),
      ready_since = CASE
        WHEN n.ready_after
        THEN greatest(
          CASE WHEN n.ready_before
               THEN least(c.ready_since, clock_timestamp())
               ELSE clock_timestamp() END,
          h.run_after)
        ELSE c.ready_since END
  FROM next n LEFT JOIN heads h ON h.key = n.key
  WHERE c.conversation = n.key;
END
$$;

-- As in 20261206000003; a change of an active job's source type or
-- content type moves its conversation's head too.
CREATE OR REPLACE FUNCTION public.jobs_count_updated() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  ids TEXT[];
  pending INTEGER[];
  processing INTEGER[];
  tops BIGINT[];
  lows BIGINT[];
BEGIN
  WITH pairs AS (
    SELECT o.conversation AS old_key, o.status AS old_status,
           n.conversation AS new_key, n.status AS new_status,
           n.position AS new_position
    FROM old_jobs o JOIN new_jobs n ON n.id = o.id
    WHERE (o.conversation IS NOT NULL OR n.conversation IS NOT NULL)
      AND (o.status <> n.status
           OR o.conversation IS DISTINCT FROM n.conversation
           OR ((o.status IN ('pending', 'processing')
                OR n.status IN ('pending', 'processing'))
               AND (o.run_after <> n.run_after
                    OR o.position <> n.position
                    OR o.priority <> n.priority
                    OR o.source_type <> n.source_type
                    OR o.content_type <> n.content_type)))
  ), changes AS (
    SELECT new_key AS key, (new_status = 'pending')::int AS p,
           (new_status = 'processing')::int AS q,
           CASE WHEN new_status IN ('pending', 'processing')
                THEN new_position END AS top
    FROM pairs WHERE new_key IS NOT NULL
    UNION ALL
    SELECT old_key, -(old_status = 'pending')::int,
           -(old_status = 'processing')::int, NULL
    FROM pairs WHERE old_key IS NOT NULL
  )
  SELECT array_agg(key ORDER BY key),
         array_agg(p ORDER BY key), array_agg(q ORDER BY key),
         array_agg(top ORDER BY key), array_agg(low ORDER BY key)
  INTO ids, pending, processing, tops, lows
  FROM (SELECT key, sum(p)::int AS p, sum(q)::int AS q, max(top) AS top,
               min(top) AS low
        FROM changes GROUP BY key) d;
  IF ids IS NOT NULL THEN
    PERFORM public.apply_job_changes(ids, pending, processing, tops, lows);
  END IF;
  RETURN NULL;
END
$$;

-- As in 20261206000003; a ready conversation whose head's priority or kind
-- it does not hold is repaired too.
CREATE OR REPLACE FUNCTION public.repair_conversations(ids TEXT[])
RETURNS INTEGER
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  drifted TEXT[];
  held TEXT[];
  repaired INTEGER;
BEGIN
  SELECT array_agg(u.key) INTO drifted
  FROM unnest(ids) u(key)
  CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE j.status = 'pending')::int AS pending,
           count(*) FILTER (WHERE j.status = 'processing')::int AS processing,
           coalesce(max(j.position), 0) AS top, min(j.position) AS low
    FROM public.jobs j WHERE j.conversation = u.key
      AND j.status IN ('pending', 'processing')) t
  LEFT JOIN public.conversations c ON c.conversation = u.key
  LEFT JOIN LATERAL (
    SELECT j.priority, j.source_type, j.content_type FROM public.jobs j
    WHERE j.conversation = u.key AND j.status IN ('pending', 'processing')
      AND j.position >= t.low
    ORDER BY j.position LIMIT 1) h ON true
  WHERE CASE WHEN c.conversation IS NULL
             THEN t.pending + t.processing > 0
             ELSE c.pending_jobs <> t.pending
               OR c.processing_jobs <> t.processing
               OR c.last_position < t.top OR c.first_position > t.low
               OR (t.pending > 0 AND t.processing = 0
                   AND (c.head_priority, c.head_source_type,
                        c.head_content_type)
                       IS DISTINCT FROM
                       (h.priority, h.source_type, h.content_type)) END;
  IF drifted IS NULL THEN
    RETURN 0;
  END IF;
  INSERT INTO public.conversations (conversation)
  SELECT u.key FROM unnest(drifted) u(key)
  WHERE EXISTS (SELECT 1 FROM public.jobs j
                WHERE j.conversation = u.key
                  AND j.status IN ('pending', 'processing'))
  ORDER BY u.key
  ON CONFLICT (conversation) DO NOTHING;
  SELECT array_agg(conversation) INTO held FROM (
    SELECT conversation FROM public.conversations
    WHERE conversation = ANY (drifted)
    ORDER BY conversation FOR UPDATE SKIP LOCKED) l;
  IF held IS NULL THEN
    RETURN 0;
  END IF;
  WITH truth AS (
    SELECT u.key, t.pending, t.processing, t.top, t.low, h.run_after,
           h.priority, h.source_type, h.content_type
    FROM unnest(held) u(key) CROSS JOIN LATERAL (
      SELECT count(*) FILTER (WHERE j.status = 'pending')::int AS pending,
             count(*) FILTER (WHERE j.status = 'processing')::int AS processing,
             coalesce(max(j.position), 0) AS top, min(j.position) AS low
      FROM public.jobs j WHERE j.conversation = u.key
        AND j.status IN ('pending', 'processing')) t
    LEFT JOIN LATERAL (
      SELECT j.run_after, j.priority, j.source_type, j.content_type
      FROM public.jobs j
      WHERE j.conversation = u.key AND j.status IN ('pending', 'processing')
        AND j.position >= t.low
      ORDER BY j.position LIMIT 1) h ON true
  ), fixed AS (
    UPDATE public.conversations c
    SET pending_jobs = t.pending, processing_jobs = t.processing,
        last_position = greatest(c.last_position, t.top),
        first_position = coalesce(t.low, c.first_position),
        head_priority = coalesce(t.priority, c.head_priority),
        head_source_type = coalesce(t.source_type, c.head_source_type),
        head_content_type = coalesce(t.content_type, c.head_content_type),
        ready_since = CASE
          WHEN t.pending > 0 AND t.processing = 0
          THEN greatest(
            CASE WHEN c.pending_jobs > 0 AND c.processing_jobs = 0
                 THEN least(c.ready_since, clock_timestamp())
                 ELSE clock_timestamp() END,
            t.run_after)
          ELSE c.ready_since END
    FROM truth t
    WHERE c.conversation = t.key
      AND (c.pending_jobs <> t.pending OR c.processing_jobs <> t.processing
           OR c.last_position < t.top OR c.first_position > t.low
           OR (t.pending > 0 AND t.processing = 0
               AND (c.head_priority, c.head_source_type, c.head_content_type)
                   IS DISTINCT FROM
                   (t.priority, t.source_type, t.content_type)))
    RETURNING 1)
  SELECT count(*) INTO repaired FROM fixed;
  RETURN repaired;
END
$$;
