-- Queue counters: jobs by queue and status, and claims, completions and
-- failures per minute, for GetQueueStats and the metrics, without a count
-- of jobs per call and without a shared row on the write path.
--
-- A statement that writes jobs (the service's or anyone's SQL) appends to
-- queue_count_deltas one row per (queue, status) whose count it changed,
-- from its transition tables, in its own transaction: rows are only
-- appended, never updated, so concurrent writers never wait for each other
-- here (one row per queue updated by every transaction would serialize
-- their commits). The table has no index: appending costs one heap insert.
-- The maintenance loop folds the deltas into queue_counts and
-- queue_throughput (roll_up_queue_counts, one transaction), and a reader
-- adds the deltas not folded yet: in one statement's snapshot the sum is
-- the true count. A crash loses nothing: deltas commit or roll back with
-- the jobs they count. Jobs written with triggers off (or counts edited
-- by hand) drift; recount_queue_counts() sets the counts again from the
-- jobs (docs/operations.md).

CREATE TABLE IF NOT EXISTS public.queue_count_deltas (
  queue TEXT NOT NULL,
  status TEXT NOT NULL,
  minute TIMESTAMPTZ NOT NULL,
  jobs BIGINT NOT NULL,
  entered BIGINT NOT NULL
);
COMMENT ON TABLE public.queue_count_deltas IS 'Changes to queue_counts and queue_throughput not folded in yet (appended by the jobs triggers, folded by maintenance).';
COMMENT ON COLUMN public.queue_count_deltas.minute IS 'The minute of the writing transaction''s start.';
COMMENT ON COLUMN public.queue_count_deltas.jobs IS 'Change of the count of the queue''s jobs in status.';
COMMENT ON COLUMN public.queue_count_deltas.entered IS 'Jobs that moved into status (processing: claimed; complete; failed).';

CREATE TABLE IF NOT EXISTS public.queue_counts (
  queue TEXT NOT NULL,
  status TEXT NOT NULL,
  jobs BIGINT NOT NULL,
  PRIMARY KEY (queue, status)
);
COMMENT ON TABLE public.queue_counts IS 'Jobs by queue and status, as of the last roll-up (add queue_count_deltas for now).';

CREATE TABLE IF NOT EXISTS public.queue_throughput (
  queue TEXT NOT NULL,
  minute TIMESTAMPTZ NOT NULL,
  status TEXT NOT NULL,
  entered BIGINT NOT NULL,
  PRIMARY KEY (queue, minute, status)
);
COMMENT ON TABLE public.queue_throughput IS 'Jobs of a queue that moved into processing (claims), complete or failed, per minute; kept one hour.';

ALTER TABLE public.queue_count_deltas ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.queue_counts ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.queue_throughput ENABLE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.queue_count_deltas,
  public.queue_counts, public.queue_throughput
  TO anon, authenticated, service_role;
DROP POLICY IF EXISTS queue_count_deltas_service_role_all
  ON public.queue_count_deltas;
CREATE POLICY queue_count_deltas_service_role_all
  ON public.queue_count_deltas
  FOR ALL TO service_role USING (true) WITH CHECK (true);
DROP POLICY IF EXISTS queue_counts_service_role_all ON public.queue_counts;
CREATE POLICY queue_counts_service_role_all ON public.queue_counts
  FOR ALL TO service_role USING (true) WITH CHECK (true);
DROP POLICY IF EXISTS queue_throughput_service_role_all
  ON public.queue_throughput;
CREATE POLICY queue_throughput_service_role_all ON public.queue_throughput
  FOR ALL TO service_role USING (true) WITH CHECK (true);

-- Inserted jobs: +1 in their queue and status (and an insert as
-- processing, complete or failed counts as entering it).
CREATE OR REPLACE FUNCTION public.jobs_tally_inserted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  INSERT INTO public.queue_count_deltas (queue, status, minute, jobs, entered)
  SELECT queue, status, date_trunc('minute', now()), count(*),
         count(*) FILTER (WHERE status IN ('processing', 'complete', 'failed'))
  FROM new_jobs GROUP BY queue, status;
  RETURN NULL;
END
$$;

-- Updated jobs: the new rows count +1, the old ones -1 (whatever changed,
-- the id too); a job whose status changed enters its new one. A statement
-- that changes no queue or status (a lease extended) appends nothing.
CREATE OR REPLACE FUNCTION public.jobs_tally_updated() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  INSERT INTO public.queue_count_deltas (queue, status, minute, jobs, entered)
  SELECT queue, status, date_trunc('minute', now()), sum(jobs), sum(entered)
  FROM (
    SELECT queue, status, 1 AS jobs, 0 AS entered FROM new_jobs
    UNION ALL
    SELECT queue, status, -1, 0 FROM old_jobs
    UNION ALL
    SELECT n.queue, n.status, 0, 1
    FROM new_jobs n JOIN old_jobs o ON o.id = n.id
    WHERE o.status <> n.status
      AND n.status IN ('processing', 'complete', 'failed')) changes
  GROUP BY queue, status
  HAVING sum(jobs) <> 0 OR sum(entered) <> 0;
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION public.jobs_tally_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  INSERT INTO public.queue_count_deltas (queue, status, minute, jobs, entered)
  SELECT queue, status, date_trunc('minute', now()), -count(*), 0
  FROM old_jobs GROUP BY queue, status;
  RETURN NULL;
END
$$;

-- TRUNCATE (no row triggers): no queue has jobs left. Waits for a roll-up
-- in progress, so the statements after the lock see what it folded.
CREATE OR REPLACE FUNCTION public.jobs_tally_truncated() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  LOCK TABLE public.queue_counts IN EXCLUSIVE MODE;
  DELETE FROM public.queue_count_deltas;
  UPDATE public.queue_counts SET jobs = 0 WHERE jobs <> 0;
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS jobs_tally_insert ON public.jobs;
CREATE TRIGGER jobs_tally_insert AFTER INSERT ON public.jobs
  REFERENCING NEW TABLE AS new_jobs
  FOR EACH STATEMENT EXECUTE FUNCTION public.jobs_tally_inserted();
DROP TRIGGER IF EXISTS jobs_tally_update ON public.jobs;
CREATE TRIGGER jobs_tally_update AFTER UPDATE ON public.jobs
  REFERENCING OLD TABLE AS old_jobs NEW TABLE AS new_jobs
  FOR EACH STATEMENT EXECUTE FUNCTION public.jobs_tally_updated();
DROP TRIGGER IF EXISTS jobs_tally_delete ON public.jobs;
CREATE TRIGGER jobs_tally_delete AFTER DELETE ON public.jobs
  REFERENCING OLD TABLE AS old_jobs
  FOR EACH STATEMENT EXECUTE FUNCTION public.jobs_tally_deleted();
DROP TRIGGER IF EXISTS jobs_tally_truncate ON public.jobs;
CREATE TRIGGER jobs_tally_truncate AFTER TRUNCATE ON public.jobs
  FOR EACH STATEMENT EXECUTE FUNCTION public.jobs_tally_truncated();

-- Folds every delta committed so far into queue_counts and
-- queue_throughput, and forgets throughput older than an hour; returns the
-- deltas folded. The maintenance loop runs it under its lock; two at once
-- would still count each delta once (a row deleted by one is skipped by
-- the other). Rows are written in key order, as every writer of these
-- tables writes them.
CREATE OR REPLACE FUNCTION public.roll_up_queue_counts() RETURNS INTEGER
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  folded INTEGER;
BEGIN
  WITH moved AS (
    DELETE FROM public.queue_count_deltas
    RETURNING queue, status, minute, jobs, entered
  ), counted AS (
    INSERT INTO public.queue_counts AS c (queue, status, jobs)
    SELECT queue, status, sum(jobs) FROM moved
    GROUP BY queue, status HAVING sum(jobs) <> 0
    ORDER BY queue, status
    ON CONFLICT (queue, status) DO UPDATE SET jobs = c.jobs + EXCLUDED.jobs
  ), minutes AS (
    INSERT INTO public.queue_throughput AS t (queue, minute, status, entered)
    SELECT queue, minute, status, sum(entered) FROM moved
    WHERE entered <> 0
    GROUP BY queue, minute, status
    ORDER BY queue, minute, status
    ON CONFLICT (queue, minute, status)
    DO UPDATE SET entered = t.entered + EXCLUDED.entered
  )
  SELECT count(*) INTO folded FROM moved;
  DELETE FROM public.queue_throughput
  WHERE minute < now() - interval '1 hour';
  RETURN folded;
END
$$;

-- The repair: sets queue_counts to the jobs' true counts and drops the
-- deltas. Holds off every writer of jobs while it counts (SHARE lock: a
-- few seconds at 5,000,000 jobs), so no change is counted twice or
-- missed; the statements after the locks see every committed change.
-- Returns the queues counted. Throughput history is left as it is.
CREATE OR REPLACE FUNCTION public.recount_queue_counts() RETURNS INTEGER
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  counted INTEGER;
BEGIN
  LOCK TABLE public.jobs IN SHARE MODE;
  LOCK TABLE public.queue_counts IN EXCLUSIVE MODE;
  DELETE FROM public.queue_count_deltas;
  DELETE FROM public.queue_counts;
  INSERT INTO public.queue_counts (queue, status, jobs)
  SELECT queue, status, count(*) FROM public.jobs
  GROUP BY queue, status ORDER BY queue, status;
  SELECT count(DISTINCT queue) INTO counted FROM public.queue_counts;
  RETURN counted;
END
$$;

-- Existing jobs, counted once.
SELECT public.recount_queue_counts();

-- ListConversations: the conversations with waiting work of a queue, the
-- one waiting longest first. Conversation rows are rewritten by every
-- claim and completion anyway (their counts are in the other indexes'
-- predicates), so this index adds one entry to those rewrites, and only
-- while the conversation has pending jobs. Its predicate also states
-- last_position >= 0 (always true), which only list_conversations states:
-- a claim (pending_jobs > 0 AND processing_jobs = 0, by queue and
-- ready_since) could otherwise pick it over the claim's own index and read
-- every blocked conversation of the queue.
CREATE INDEX IF NOT EXISTS conversations_waiting_idx
  ON public.conversations (queue, ready_since, conversation)
  WHERE pending_jobs > 0 AND last_position >= 0;
