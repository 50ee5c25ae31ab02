-- Settings per named queue, starting with a rate limit.
--
-- Queues exist implicitly (jobs.queue names them); a queue has a row here
-- only once something is set for it, and a queue without one has the
-- defaults (no limit). Later settings (a pause, a default run time) become
-- columns of this table.
--
-- A rate limit is a token bucket: jobs_per_second tokens flow in, up to
-- burst; each job claimed from the queue spends one. The bucket is kept in
-- the row itself, lazily: tokens as of refilled_at, so the tokens at time t
-- are least(burst, tokens + (t - refilled_at) * jobs_per_second). A claim
-- that takes jobs of a limited queue locks its row, takes at most the
-- whole tokens there are, and writes what is left, in the claim's own
-- statement (storage/queries/jobs_claim.sql): the limit holds across every
-- replica. A queue without a limit has NULL in all four columns, and its
-- claims never lock its row.

CREATE TABLE IF NOT EXISTS public.queues (
  name TEXT PRIMARY KEY
    CONSTRAINT queues_name CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$'),
  jobs_per_second DOUBLE PRECISION,
  burst INTEGER,
  tokens DOUBLE PRECISION,
  refilled_at TIMESTAMPTZ,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  CONSTRAINT queues_rate_limit CHECK (
    (jobs_per_second IS NULL AND burst IS NULL AND tokens IS NULL
     AND refilled_at IS NULL)
    OR (jobs_per_second > 0 AND jobs_per_second <= 100000
        AND burst BETWEEN 1 AND 100000
        AND tokens >= 0 AND tokens <= burst AND refilled_at IS NOT NULL))
);
COMMENT ON TABLE public.queues IS 'Settings of a named queue (jobs.queue); a queue without a row has the defaults.';
COMMENT ON COLUMN public.queues.name IS 'The queue, as jobs.queue names it.';
COMMENT ON COLUMN public.queues.jobs_per_second IS 'Rate limit: jobs claimed per second, at most; NULL for no limit.';
COMMENT ON COLUMN public.queues.burst IS 'Rate limit: jobs claimable at once after an idle spell (the bucket''s size).';
COMMENT ON COLUMN public.queues.tokens IS 'Rate limit: tokens in the bucket as of refilled_at (claims spend them).';
COMMENT ON COLUMN public.queues.refilled_at IS 'Rate limit: when tokens was last computed.';

ALTER TABLE public.queues ENABLE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.queues
  TO anon, authenticated, service_role;
DROP POLICY IF EXISTS queues_service_role_all ON public.queues;
CREATE POLICY queues_service_role_all ON public.queues
  FOR ALL TO service_role USING (true) WITH CHECK (true);
