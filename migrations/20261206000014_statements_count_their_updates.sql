-- The service's update statements may count their own rows in their
-- conversations, in one pass with the update, as its enqueues already do
-- (jobs_count_inserted): a claim, which holds its conversations' rows
-- already, moves each claimed head from pending to processing there. A
-- statement that did so sets jobqueue.statement_counted; the update
-- trigger, which fires once at the statement's end, resets it and skips
-- the statement. Every other writer (psql, a Supabase client) sets
-- nothing and is counted by the trigger as before.
--
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
