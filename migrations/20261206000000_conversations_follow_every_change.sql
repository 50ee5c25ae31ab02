-- Conversation rows follow every change to jobs, by whatever SQL it is made.
--
-- Counts come from the rows a statement actually wrote (transition tables),
-- never from rows it meant to write: a row skipped by ON CONFLICT DO NOTHING
-- is not counted, and an insert that gives its own position is. Readiness
-- moves whenever a head's status, run_after, position or existence changes,
-- so an operator's fix (a head deleted or failed by hand, run_after set to
-- now() or pushed later) takes effect at once. Counts never go below zero:
-- drift (jobs written with triggers off, counts edited by hand) is repaired
-- by the maintenance sweep, recount_conversations_after(), which visits
-- every conversation in turn, a bounded number per round.
--
-- Claims also stay cheap while a long snapshot (pg_dump, an idle REPEATABLE
-- READ session) keeps cleanup from removing old row versions: a head lookup
-- starts at the conversation's first_position, past the index entries of
-- its finished jobs, and the scan of ready conversations starts at
-- conversation_clock.ready_floor, past the versions claims left behind.

ALTER TABLE public.conversations
  ADD COLUMN IF NOT EXISTS first_position BIGINT NOT NULL DEFAULT 0;
COMMENT ON COLUMN public.conversations.first_position IS 'No active job of the conversation has a lower position: where a head lookup starts.';

-- One row: the earliest ready_since a ready conversation may have, kept by
-- maintenance (advance_ready_floor, below). Readiness is written as
-- clock_timestamp(), so a write that has not committed yet can hold a time
-- earlier than what the committed rows show: a new floor is only a
-- candidate until every transaction that was writing conversations when it
-- was taken has ended, and then becomes the floor.
CREATE TABLE IF NOT EXISTS public.conversation_clock (
  only_row BOOLEAN PRIMARY KEY DEFAULT true
    CONSTRAINT conversation_clock_one_row CHECK (only_row),
  ready_floor TIMESTAMPTZ NOT NULL DEFAULT '-infinity',
  next_floor TIMESTAMPTZ,
  next_floor_writers XID[]
);
COMMENT ON TABLE public.conversation_clock IS 'One row: where claims start their scan of ready conversations (kept by maintenance).';
COMMENT ON COLUMN public.conversation_clock.ready_floor IS 'No ready conversation has an earlier ready_since; -infinity until maintenance first runs.';
COMMENT ON COLUMN public.conversation_clock.next_floor IS 'The next floor, once the transactions of next_floor_writers have ended.';
COMMENT ON COLUMN public.conversation_clock.next_floor_writers IS 'Transactions that were writing conversations when next_floor was taken.';
INSERT INTO public.conversation_clock DEFAULT VALUES ON CONFLICT DO NOTHING;
ALTER TABLE public.conversation_clock ENABLE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.conversation_clock
  TO anon, authenticated, service_role;
DROP POLICY IF EXISTS conversation_clock_service_role_all
  ON public.conversation_clock;
CREATE POLICY conversation_clock_service_role_all ON public.conversation_clock
  FOR ALL TO service_role USING (true) WITH CHECK (true);

-- An insert without a position takes the next one of its conversation; the
-- conversation's row stays locked until commit, so positions follow commit
-- order. Counting is left to the statement trigger below.
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

-- Applies one statement's changes to the conversations of `ids` (sorted):
-- pending and processing deltas, the highest and lowest active positions
-- written, and a new readiness. A conversation that is ready after the
-- change is due when its head is: one that was ready keeps its place in
-- line unless its head is now due later; one that becomes ready goes to the
-- back. Rows are locked in id order, as every writer of conversations locks
-- them.
CREATE OR REPLACE FUNCTION public.apply_job_changes(
  ids TEXT[], pending_deltas INTEGER[], processing_deltas INTEGER[],
  top_positions BIGINT[], low_positions BIGINT[])
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  locked INTEGER;
BEGIN
  PERFORM 1 FROM public.conversations WHERE source_channel_id = ANY (ids)
  ORDER BY source_channel_id FOR UPDATE;
  GET DIAGNOSTICS locked = ROW_COUNT;
  IF locked < cardinality(ids) THEN
    -- Jobs of a conversation that has no row yet: written with triggers
    -- off, or inserted with a position given.
    INSERT INTO public.conversations (source_channel_id)
    SELECT u.channel FROM unnest(ids) u(channel) ORDER BY u.channel
    ON CONFLICT (source_channel_id) DO NOTHING;
    PERFORM 1 FROM public.conversations WHERE source_channel_id = ANY (ids)
    ORDER BY source_channel_id FOR UPDATE;
  END IF;
  WITH next AS (
    SELECT d.*,
           c.pending_jobs > 0 AND c.processing_jobs = 0 AS ready_before,
           c.pending_jobs + d.pending > 0
             AND c.processing_jobs + d.processing <= 0 AS ready_after,
           least(c.first_position, d.low) AS from_position
    FROM unnest(ids, pending_deltas, processing_deltas, top_positions,
                low_positions) AS d(channel, pending, processing, top, low)
    JOIN public.conversations c ON c.source_channel_id = d.channel
  ), heads AS (
    SELECT n.channel, h.run_after, h.position
    FROM next n CROSS JOIN LATERAL (
      SELECT j.run_after, j.position FROM public.jobs j
      WHERE j.source_channel_id = n.channel
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
      ready_since = CASE
        WHEN n.ready_after
        THEN greatest(
          CASE WHEN n.ready_before
               THEN least(c.ready_since, clock_timestamp())
               ELSE clock_timestamp() END,
          h.run_after)
        ELSE c.ready_since END
  FROM next n LEFT JOIN heads h ON h.channel = n.channel
  WHERE c.source_channel_id = n.channel;
END
$$;
DROP FUNCTION IF EXISTS public.apply_job_changes(TEXT[], INTEGER[], INTEGER[],
                                                 BIGINT[]);

-- Inserted active jobs, counted by conversation, unless the statement
-- counted them itself (the service's enqueue statements, which set
-- jobqueue.statement_counted for the rest of their statement).
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
  SELECT array_agg(channel ORDER BY channel),
         array_agg(p ORDER BY channel), array_agg(q ORDER BY channel),
         array_agg(top ORDER BY channel), array_agg(low ORDER BY channel)
  INTO ids, pending, processing, tops, lows
  FROM (SELECT source_channel_id AS channel,
               count(*) FILTER (WHERE status = 'pending')::int AS p,
               count(*) FILTER (WHERE status = 'processing')::int AS q,
               max(position) AS top, min(position) AS low
        FROM new_jobs WHERE status IN ('pending', 'processing')
        GROUP BY source_channel_id) d;
  IF ids IS NOT NULL THEN
    PERFORM public.apply_job_changes(ids, pending, processing, tops, lows);
  END IF;
  RETURN NULL;
END
$$;

-- Updated jobs whose status, conversation, position or (while active)
-- run_after changed. A statement that changes none of these (a lease
-- extended) touches no conversation.
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
    SELECT o.source_channel_id AS old_channel, o.status AS old_status,
           n.source_channel_id AS new_channel, n.status AS new_status,
           n.position AS new_position
    FROM old_jobs o JOIN new_jobs n ON n.id = o.id
    WHERE o.status <> n.status
       OR o.source_channel_id <> n.source_channel_id
       OR ((o.status IN ('pending', 'processing')
            OR n.status IN ('pending', 'processing'))
           AND (o.run_after <> n.run_after OR o.position <> n.position))
  ), changes AS (
    SELECT new_channel AS channel, (new_status = 'pending')::int AS p,
           (new_status = 'processing')::int AS q,
           CASE WHEN new_status IN ('pending', 'processing')
                THEN new_position END AS top
    FROM pairs
    UNION ALL
    SELECT old_channel, -(old_status = 'pending')::int,
           -(old_status = 'processing')::int, NULL
    FROM pairs
  )
  SELECT array_agg(channel ORDER BY channel),
         array_agg(p ORDER BY channel), array_agg(q ORDER BY channel),
         array_agg(top ORDER BY channel), array_agg(low ORDER BY channel)
  INTO ids, pending, processing, tops, lows
  FROM (SELECT channel, sum(p)::int AS p, sum(q)::int AS q, max(top) AS top,
               min(top) AS low
        FROM changes GROUP BY channel) d;
  IF ids IS NOT NULL THEN
    PERFORM public.apply_job_changes(ids, pending, processing, tops, lows);
  END IF;
  RETURN NULL;
END
$$;

-- Deleted active jobs; finished ones change no count and lock nothing.
CREATE OR REPLACE FUNCTION public.jobs_count_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  ids TEXT[];
  pending INTEGER[];
  processing INTEGER[];
BEGIN
  SELECT array_agg(channel ORDER BY channel),
         array_agg(-p ORDER BY channel), array_agg(-q ORDER BY channel)
  INTO ids, pending, processing
  FROM (SELECT source_channel_id AS channel,
               count(*) FILTER (WHERE status = 'pending')::int AS p,
               count(*) FILTER (WHERE status = 'processing')::int AS q
        FROM old_jobs WHERE status IN ('pending', 'processing')
        GROUP BY source_channel_id) d;
  IF ids IS NOT NULL THEN
    PERFORM public.apply_job_changes(
      ids, pending, processing,
      array_fill(NULL::bigint, ARRAY[cardinality(ids)]),
      array_fill(NULL::bigint, ARRAY[cardinality(ids)]));
  END IF;
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
  FOR EACH STATEMENT EXECUTE FUNCTION public.jobs_count_updated();
DROP TRIGGER IF EXISTS jobs_count_delete ON public.jobs;
CREATE TRIGGER jobs_count_delete AFTER DELETE ON public.jobs
  REFERENCING OLD TABLE AS old_jobs
  FOR EACH STATEMENT EXECUTE FUNCTION public.jobs_count_deleted();
DROP FUNCTION IF EXISTS public.jobs_count_conversations();

-- Sets the counts, last and first positions and readiness of the
-- conversations in `ids` to what their jobs say, skipping rows another
-- session holds; creates the rows of conversations that have active jobs
-- and none. Returns how many it changed. Compares first without locking
-- (a snapshot shows each conversation and its jobs as of the same commits),
-- so only conversations that drifted are locked: claims skip locked ones.
CREATE OR REPLACE FUNCTION public.repair_conversations(ids TEXT[])
RETURNS INTEGER
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  drifted TEXT[];
  held TEXT[];
  repaired INTEGER;
BEGIN
  SELECT array_agg(u.channel) INTO drifted
  FROM unnest(ids) u(channel)
  CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE j.status = 'pending')::int AS pending,
           count(*) FILTER (WHERE j.status = 'processing')::int AS processing,
           coalesce(max(j.position), 0) AS top, min(j.position) AS low
    FROM public.jobs j WHERE j.source_channel_id = u.channel
      AND j.status IN ('pending', 'processing')) t
  LEFT JOIN public.conversations c ON c.source_channel_id = u.channel
  WHERE CASE WHEN c.source_channel_id IS NULL
             THEN t.pending + t.processing > 0
             ELSE c.pending_jobs <> t.pending
               OR c.processing_jobs <> t.processing
               OR c.last_position < t.top OR c.first_position > t.low END;
  IF drifted IS NULL THEN
    RETURN 0;
  END IF;
  INSERT INTO public.conversations (source_channel_id)
  SELECT u.channel FROM unnest(drifted) u(channel)
  WHERE EXISTS (SELECT 1 FROM public.jobs j
                WHERE j.source_channel_id = u.channel
                  AND j.status IN ('pending', 'processing'))
  ORDER BY u.channel
  ON CONFLICT (source_channel_id) DO NOTHING;
  SELECT array_agg(source_channel_id) INTO held FROM (
    SELECT source_channel_id FROM public.conversations
    WHERE source_channel_id = ANY (drifted)
    ORDER BY source_channel_id FOR UPDATE SKIP LOCKED) l;
  IF held IS NULL THEN
    RETURN 0;
  END IF;
  -- A statement after the lock: its snapshot sees every change committed
  -- before the rows were locked, and no later one can change these counts.
  WITH truth AS (
    SELECT u.channel, t.pending, t.processing, t.top, t.low
    FROM unnest(held) u(channel) CROSS JOIN LATERAL (
      SELECT count(*) FILTER (WHERE j.status = 'pending')::int AS pending,
             count(*) FILTER (WHERE j.status = 'processing')::int AS processing,
             coalesce(max(j.position), 0) AS top, min(j.position) AS low
      FROM public.jobs j WHERE j.source_channel_id = u.channel
        AND j.status IN ('pending', 'processing')) t
  ), fixed AS (
    UPDATE public.conversations c
    SET pending_jobs = t.pending, processing_jobs = t.processing,
        last_position = greatest(c.last_position, t.top),
        first_position = coalesce(t.low, c.first_position),
        ready_since = CASE
          WHEN t.pending > 0 AND t.processing = 0
          THEN greatest(
            CASE WHEN c.pending_jobs > 0 AND c.processing_jobs = 0
                 THEN least(c.ready_since, clock_timestamp())
                 ELSE clock_timestamp() END,
            (SELECT j.run_after FROM public.jobs j
             WHERE j.source_channel_id = c.source_channel_id
               AND j.status IN ('pending', 'processing')
               AND j.position >= t.low
             ORDER BY j.position LIMIT 1))
          ELSE c.ready_since END
    FROM truth t
    WHERE c.source_channel_id = t.channel
      AND (c.pending_jobs <> t.pending OR c.processing_jobs <> t.processing
           OR c.last_position < t.top OR c.first_position > t.low)
    RETURNING 1)
  SELECT count(*) INTO repaired FROM fixed;
  RETURN repaired;
END
$$;

-- The sweep: repairs the next max_rows conversations after `after` in id
-- order, among conversation rows and conversations with active jobs (found
-- one index probe each, so one without a row is found too). `next_after`
-- is where the next round starts; '' when this one reached the end. STRICT:
-- a NULL argument returns NULLs without running.
CREATE OR REPLACE FUNCTION public.recount_conversations_after(
  after TEXT, max_rows INTEGER, OUT next_after TEXT, OUT repaired INTEGER)
LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = public AS $$
DECLARE
  ids TEXT[];
BEGIN
  WITH RECURSIVE active(id, n) AS (
    (SELECT source_channel_id, 1 FROM public.jobs
     WHERE source_channel_id > after AND status IN ('pending', 'processing')
     ORDER BY source_channel_id LIMIT 1)
    UNION ALL
    SELECT (SELECT j.source_channel_id FROM public.jobs j
            WHERE j.source_channel_id > a.id
              AND j.status IN ('pending', 'processing')
            ORDER BY j.source_channel_id LIMIT 1), a.n + 1
    FROM active a WHERE a.id IS NOT NULL AND a.n < max_rows
  ), rows AS (
    SELECT source_channel_id AS id FROM public.conversations
    WHERE source_channel_id > after
    ORDER BY source_channel_id LIMIT max_rows
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

-- The recount of the longest-ready conversations whose head is not a
-- pending job now repairs them the same way.
CREATE OR REPLACE FUNCTION public.recount_conversations(max_rows INTEGER)
RETURNS INTEGER
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  channels TEXT[];
BEGIN
  SELECT array_agg(source_channel_id) INTO channels FROM (
    SELECT c.source_channel_id
    FROM (SELECT source_channel_id, first_position, ready_since
          FROM public.conversations
          WHERE pending_jobs > 0 AND processing_jobs = 0
            AND ready_since >= (SELECT ready_floor
                                FROM public.conversation_clock)
          ORDER BY ready_since LIMIT max_rows) c
    LEFT JOIN LATERAL (
      SELECT j.status FROM public.jobs j
      WHERE j.source_channel_id = c.source_channel_id
        AND j.status IN ('pending', 'processing')
        AND j.position >= c.first_position
      ORDER BY j.position LIMIT 1) head ON true
    WHERE head.status IS DISTINCT FROM 'pending') drifted;
  IF channels IS NULL THEN
    RETURN 0;
  END IF;
  RETURN public.repair_conversations(channels);
END
$$;

-- Raises the floor to the candidate taken last round once every
-- transaction that was writing conversations then has ended (any readiness
-- it wrote is committed and counted; later writes write later times), then
-- takes a new candidate: the earliest ready conversation, or now. Readers
-- (pg_dump, a report) and transactions that never wrote conversations hold
-- nothing back. Also moves a ready conversation below the floor
-- (ready_since edited by hand) up to it, skipping rows another session
-- holds, and returns how many it moved. The maintenance loop runs it; until
-- it first does, the floor is -infinity.
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
  WHERE source_channel_id IN (
    SELECT source_channel_id FROM public.conversations
    WHERE pending_jobs > 0 AND processing_jobs = 0
      AND ready_since < clock.ready_floor
    FOR UPDATE SKIP LOCKED);
  GET DIAGNOSTICS moved = ROW_COUNT;
  settled := clock.next_floor IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM pg_catalog.pg_locks
    WHERE locktype = 'transactionid'
      AND transactionid = ANY (clock.next_floor_writers));
  -- Later statements: they see what every transaction that ended before
  -- the check above wrote.
  SELECT min(ready_since) INTO earliest FROM public.conversations
  WHERE pending_jobs > 0 AND processing_jobs = 0
    AND ready_since >= clock.ready_floor;
  IF settled THEN
    clock.ready_floor := greatest(clock.ready_floor,
                                  least(clock.next_floor, earliest));
  END IF;
  candidate := least(earliest, clock_timestamp());
  -- Writers still open now, after the candidate was taken: one that wrote
  -- before and has not committed is among them; one that writes later
  -- writes a later time.
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

-- Existing rows, counted once from their jobs.
SELECT public.repair_conversations(array_agg(source_channel_id))
FROM (SELECT source_channel_id FROM public.conversations
      UNION SELECT DISTINCT source_channel_id FROM public.jobs
      WHERE status IN ('pending', 'processing')) every;

COMMENT ON TABLE public.conversations IS 'Per source_channel_id: order and readiness of its jobs (kept by triggers on jobs, for any SQL; repaired by the maintenance sweep).';
