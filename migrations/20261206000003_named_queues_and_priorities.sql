-- Named queues, unordered jobs and priorities.
--
-- Every job belongs to a queue ('default' unless given); a worker claims
-- from the queues it names and never gets a job of another. Conversation
-- order is kept per (queue, conversation): a job of one queue never waits
-- behind a job of another, so a media transcription cannot hold up a
-- reply. A job may opt out of order (ordered = false): it never waits
-- behind a conversation's head and never holds one up.
--
-- The ordering key is one column, jobs.conversation: the queue, a space
-- (queue names have none) and source_channel_id; NULL for an unordered
-- job. It is generated, so no writer can make it disagree with queue and
-- source_channel_id. Adding it rewrites jobs once. conversations is keyed
-- by it; its queue and source_channel_id are generated from it.
--
-- Priorities: 0 to 9, higher first, 0 unless given. Among the claimable
-- jobs of the queues a claim names, a higher priority goes first; inside
-- one conversation order still wins (a head of priority 0 keeps a later
-- job of priority 9 waiting). A conversation is ranked by its head's
-- priority, kept in conversations.head_priority wherever its head is
-- found. A claim reads each level on its own, from the highest, and stops
-- once it has enough: each read is bounded by the ready floor
-- (20261206000000), which one index over all levels could not do.

ALTER TABLE public.jobs
  ADD COLUMN IF NOT EXISTS queue TEXT NOT NULL DEFAULT 'default'
    CONSTRAINT jobs_queue_name
    CHECK (queue ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$'),
  ADD COLUMN IF NOT EXISTS ordered BOOLEAN NOT NULL DEFAULT true,
  ADD COLUMN IF NOT EXISTS priority SMALLINT NOT NULL DEFAULT 0
    CONSTRAINT jobs_priority_range CHECK (priority BETWEEN 0 AND 9);
COMMENT ON COLUMN public.jobs.queue IS 'Named queue: 1 to 64 letters, digits, _ . : - (not starting with a sign); workers claim by queue.';
COMMENT ON COLUMN public.jobs.priority IS '0 to 9, higher claimed first; inside a conversation, order wins.';
COMMENT ON COLUMN public.jobs.ordered IS 'Whether it waits for the earlier jobs of its conversation in its queue (and holds up the later ones).';

ALTER TABLE public.jobs ADD COLUMN IF NOT EXISTS conversation TEXT
  GENERATED ALWAYS AS (
    CASE WHEN ordered THEN queue || ' ' || source_channel_id END) STORED;
COMMENT ON COLUMN public.jobs.conversation IS 'Ordering key: queue, a space, source_channel_id; NULL when not ordered.';

ALTER TABLE public.conversations RENAME COLUMN source_channel_id
  TO conversation;
UPDATE public.conversations SET conversation = 'default ' || conversation;
ALTER TABLE public.conversations
  ADD COLUMN IF NOT EXISTS queue TEXT
    GENERATED ALWAYS AS (split_part(conversation, ' ', 1)) STORED,
  ADD COLUMN IF NOT EXISTS source_channel_id TEXT
    GENERATED ALWAYS AS (
      substr(conversation, strpos(conversation, ' ') + 1)) STORED,
  ADD COLUMN IF NOT EXISTS head_priority SMALLINT NOT NULL DEFAULT 0
    CONSTRAINT conversations_head_priority_range
    CHECK (head_priority BETWEEN 0 AND 9);
COMMENT ON TABLE public.conversations IS 'Per (queue, source_channel_id): order and readiness of its ordered jobs (kept by triggers on jobs, for any SQL; repaired by the maintenance sweep).';
COMMENT ON COLUMN public.conversations.conversation IS 'The key jobs.conversation holds: queue, a space, source_channel_id.';
COMMENT ON COLUMN public.conversations.queue IS 'Its queue (from conversation).';
COMMENT ON COLUMN public.conversations.source_channel_id IS 'Its channel (from conversation).';
COMMENT ON COLUMN public.conversations.head_priority IS 'Priority of its head (its first active job) while it is ready.';

-- Claims read the ready conversations of each queue they name, one
-- priority level at a time.
CREATE INDEX IF NOT EXISTS conversations_queue_priority_ready_idx
  ON public.conversations (queue, head_priority, ready_since)
  WHERE pending_jobs > 0 AND processing_jobs = 0;

-- Maintenance (the recount, the ready floor) reads ready conversations of
-- every queue and level by ready_since alone. Its index carries a predicate
-- (head_priority >= 0, always true) that only maintenance's statements
-- state, so a claim can never pick it and scan every queue's ready
-- conversations for each level it probes.
CREATE INDEX IF NOT EXISTS conversations_maintenance_ready_idx
  ON public.conversations (ready_since)
  WHERE pending_jobs > 0 AND processing_jobs = 0 AND head_priority >= 0;
DROP INDEX IF EXISTS public.conversations_ready_idx;

-- A conversation's active jobs in position order (heads, recounts).
CREATE INDEX IF NOT EXISTS jobs_active_conversation_position_idx
  ON public.jobs (conversation, position)
  WHERE status IN ('pending', 'processing') AND conversation IS NOT NULL;
DROP INDEX IF EXISTS public.jobs_active_channel_position_idx;

-- Claims that ignore order take each queue's oldest pending jobs of a
-- level.
CREATE INDEX IF NOT EXISTS jobs_pending_queue_priority_seq_idx
  ON public.jobs (queue, priority, seq) WHERE status = 'pending';
DROP INDEX IF EXISTS public.jobs_pending_seq_idx;

-- Unordered jobs are claimed by queue and level, the longest-due first;
-- those not due yet (in backoff) sit after now() and are never read.
CREATE INDEX IF NOT EXISTS jobs_unordered_priority_due_idx
  ON public.jobs (queue, priority, run_after)
  WHERE status = 'pending' AND conversation IS NULL;

-- An insert without a position, or a job made active again or moved to
-- another queue, channel or order: an ordered job takes its conversation's
-- next position (the row stays locked until commit, so positions follow
-- commit order); an unordered job takes 0. Counting is left to the
-- statement triggers. (A BEFORE trigger does not see generated columns.)
CREATE OR REPLACE FUNCTION public.jobs_take_position() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  IF NOT NEW.ordered THEN
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

DROP TRIGGER IF EXISTS jobs_position_reactivate ON public.jobs;
CREATE TRIGGER jobs_position_reactivate BEFORE UPDATE ON public.jobs
  FOR EACH ROW
  WHEN ((OLD.status IN ('complete', 'failed')
         AND NEW.status IN ('pending', 'processing'))
        OR OLD.source_channel_id IS DISTINCT FROM NEW.source_channel_id
        OR OLD.queue IS DISTINCT FROM NEW.queue
        OR OLD.ordered IS DISTINCT FROM NEW.ordered)
  EXECUTE FUNCTION public.jobs_take_position();
DROP FUNCTION IF EXISTS public.jobs_take_last_position();

-- As in 20261206000000, keyed by conversation; a ready conversation takes
-- its head's priority.
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
    SELECT n.key, h.run_after, h.position, h.priority
    FROM next n CROSS JOIN LATERAL (
      SELECT j.run_after, j.position, j.priority FROM public.jobs j
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

CREATE OR REPLACE FUNCTION public.jobs_count_inserted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  ids TEXT[];
  pending INTEGER[];
  processing INTEGER[];
  tops BIGINT[];
  lows BIGINT[];
BEGIN
  IF current_setting('jobqueue.statement_counted', true) = 'on' THEN
    PERFORM set_config('jobqueue.statement_counted', 'off', true);
    RETURN NULL;
  END IF;
  SELECT array_agg(key ORDER BY key),
         array_agg(p ORDER BY key), array_agg(q ORDER BY key),
         array_agg(top ORDER BY key), array_agg(low ORDER BY key)
  INTO ids, pending, processing, tops, lows
  FROM (SELECT conversation AS key,
               count(*) FILTER (WHERE status = 'pending')::int AS p,
               count(*) FILTER (WHERE status = 'processing')::int AS q,
               max(position) AS top, min(position) AS low
        FROM new_jobs
        WHERE status IN ('pending', 'processing') AND conversation IS NOT NULL
        GROUP BY conversation) d;
  IF ids IS NOT NULL THEN
    PERFORM public.apply_job_changes(ids, pending, processing, tops, lows);
  END IF;
  RETURN NULL;
END
$$;

-- Updated jobs whose status, conversation, position or (while active)
-- run_after or priority changed; unordered jobs count nowhere.
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
                    OR o.priority <> n.priority)))
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

CREATE OR REPLACE FUNCTION public.jobs_count_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  ids TEXT[];
  pending INTEGER[];
  processing INTEGER[];
BEGIN
  SELECT array_agg(key ORDER BY key),
         array_agg(-p ORDER BY key), array_agg(-q ORDER BY key)
  INTO ids, pending, processing
  FROM (SELECT conversation AS key,
               count(*) FILTER (WHERE status = 'pending')::int AS p,
               count(*) FILTER (WHERE status = 'processing')::int AS q
        FROM old_jobs
        WHERE status IN ('pending', 'processing') AND conversation IS NOT NULL
        GROUP BY conversation) d;
  IF ids IS NOT NULL THEN
    PERFORM public.apply_job_changes(
      ids, pending, processing,
      array_fill(NULL::bigint, ARRAY[cardinality(ids)]),
      array_fill(NULL::bigint, ARRAY[cardinality(ids)]));
  END IF;
  RETURN NULL;
END
$$;

-- As in 20261206000000, keyed by conversation; a repaired conversation
-- takes its head's priority.
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
  WHERE CASE WHEN c.conversation IS NULL
             THEN t.pending + t.processing > 0
             ELSE c.pending_jobs <> t.pending
               OR c.processing_jobs <> t.processing
               OR c.last_position < t.top OR c.first_position > t.low END;
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
           h.priority
    FROM unnest(held) u(key) CROSS JOIN LATERAL (
      SELECT count(*) FILTER (WHERE j.status = 'pending')::int AS pending,
             count(*) FILTER (WHERE j.status = 'processing')::int AS processing,
             coalesce(max(j.position), 0) AS top, min(j.position) AS low
      FROM public.jobs j WHERE j.conversation = u.key
        AND j.status IN ('pending', 'processing')) t
    LEFT JOIN LATERAL (
      SELECT j.run_after, j.priority FROM public.jobs j
      WHERE j.conversation = u.key AND j.status IN ('pending', 'processing')
        AND j.position >= t.low
      ORDER BY j.position LIMIT 1) h ON true
  ), fixed AS (
    UPDATE public.conversations c
    SET pending_jobs = t.pending, processing_jobs = t.processing,
        last_position = greatest(c.last_position, t.top),
        first_position = coalesce(t.low, c.first_position),
        head_priority = coalesce(t.priority, c.head_priority),
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
           OR c.last_position < t.top OR c.first_position > t.low)
    RETURNING 1)
  SELECT count(*) INTO repaired FROM fixed;
  RETURN repaired;
END
$$;

CREATE OR REPLACE FUNCTION public.recount_conversations_after(
  after TEXT, max_rows INTEGER, OUT next_after TEXT, OUT repaired INTEGER)
LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = public AS $$
DECLARE
  ids TEXT[];
BEGIN
  WITH RECURSIVE active(id, n) AS (
    (SELECT conversation, 1 FROM public.jobs
     WHERE conversation > after AND status IN ('pending', 'processing')
     ORDER BY conversation LIMIT 1)
    UNION ALL
    SELECT (SELECT j.conversation FROM public.jobs j
            WHERE j.conversation > a.id
              AND j.status IN ('pending', 'processing')
            ORDER BY j.conversation LIMIT 1), a.n + 1
    FROM active a WHERE a.id IS NOT NULL AND a.n < max_rows
  ), rows AS (
    SELECT conversation AS id FROM public.conversations
    WHERE conversation > after
    ORDER BY conversation LIMIT max_rows
  )
  SELECT array_agg(id ORDER BY id) INTO ids FROM (
    SELECT id FROM active WHERE id IS NOT NULL
    UNION
    SELECT id FROM rows
    ORDER BY id LIMIT max_rows) next;
  IF ids IS NULL THEN
    next_after := '';
    repaired := 0;
    RETURN;
  END IF;
  next_after := CASE WHEN cardinality(ids) < max_rows THEN ''
                     ELSE ids[cardinality(ids)] END;
  repaired := public.repair_conversations(ids);
END
$$;

-- As in 20261206000000, keyed by conversation, stating the maintenance
-- index's predicate.
CREATE OR REPLACE FUNCTION public.recount_conversations(max_rows INTEGER)
RETURNS INTEGER
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  keys TEXT[];
BEGIN
  SELECT array_agg(conversation) INTO keys FROM (
    SELECT c.conversation
    FROM (SELECT conversation, first_position, ready_since
          FROM public.conversations
          WHERE pending_jobs > 0 AND processing_jobs = 0
            AND head_priority >= 0
            AND ready_since >= (SELECT ready_floor
                                FROM public.conversation_clock)
          ORDER BY ready_since LIMIT max_rows) c
    LEFT JOIN LATERAL (
      SELECT j.status FROM public.jobs j
      WHERE j.conversation = c.conversation
        AND j.status IN ('pending', 'processing')
        AND j.position >= c.first_position
      ORDER BY j.position LIMIT 1) head ON true
    WHERE head.status IS DISTINCT FROM 'pending') drifted;
  IF keys IS NULL THEN
    RETURN 0;
  END IF;
  RETURN public.repair_conversations(keys);
END
$$;

CREATE OR REPLACE FUNCTION public.advance_ready_floor() RETURNS INTEGER
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  clock public.conversation_clock;
  settled BOOLEAN;
  earliest TIMESTAMPTZ;
  candidate TIMESTAMPTZ;
  moved INTEGER;
BEGIN
  SELECT * INTO clock FROM public.conversation_clock FOR UPDATE;
  UPDATE public.conversations SET ready_since = clock.ready_floor
  WHERE conversation IN (
    SELECT conversation FROM public.conversations
    WHERE pending_jobs > 0 AND processing_jobs = 0 AND head_priority >= 0
      AND ready_since < clock.ready_floor
    FOR UPDATE SKIP LOCKED);
  GET DIAGNOSTICS moved = ROW_COUNT;
  settled := clock.next_floor IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM pg_catalog.pg_locks
    WHERE locktype = 'transactionid'
      AND transactionid = ANY (clock.next_floor_writers));
  SELECT min(ready_since) INTO earliest FROM public.conversations
  WHERE pending_jobs > 0 AND processing_jobs = 0 AND head_priority >= 0
    AND ready_since >= clock.ready_floor;
  IF settled THEN
    clock.ready_floor := greatest(clock.ready_floor,
                                  least(clock.next_floor, earliest));
  END IF;
  candidate := least(earliest, clock_timestamp());
  UPDATE public.conversation_clock
  SET ready_floor = clock.ready_floor, next_floor = candidate,
      next_floor_writers = ARRAY(
        SELECT x.transactionid FROM pg_catalog.pg_locks r
        JOIN pg_catalog.pg_locks x
          ON x.virtualtransaction = r.virtualtransaction
         AND x.locktype = 'transactionid'
        WHERE r.locktype = 'relation'
          AND r.relation = 'public.conversations'::regclass
          AND r.database = (SELECT oid FROM pg_catalog.pg_database
                            WHERE datname = current_database())
          AND r.mode = 'RowExclusiveLock'
          AND r.pid IS DISTINCT FROM pg_backend_pid());
  RETURN moved;
END
$$;

