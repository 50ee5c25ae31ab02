-- The service's claims and completions count their own rows, in the same
-- statement, as its enqueues already do (jobs_count_inserted): an in-order
-- claim, which holds its conversations' rows already, moves each claimed
-- head from pending to processing there; a batch of completions calls
-- apply_job_changes itself once its rows are written. Both append their
-- queue counter deltas too. A statement that did so sets
-- jobqueue.statement_counted (conversations) and jobqueue.statement_tallied
-- (queue counters); the update triggers, which fire once at the
-- statement's end, reset them and skip the statement: one pass over the
-- rows instead of a second one over transition tables. Every other writer
-- (psql, a Supabase client) sets neither and is counted by the triggers as
-- before.

-- As in 20261206000004, with that check first.
CREATE OR REPLACE FUNCTION public.jobs_count_updated() RETURNS trigger
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

-- As in 20261206000012, with that check first.
CREATE OR REPLACE FUNCTION public.jobs_tally_updated() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  IF current_setting('jobqueue.statement_tallied', true) = 'on' THEN
    PERFORM set_config('jobqueue.statement_tallied', 'off', true);
    RETURN NULL;
  END IF;
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
