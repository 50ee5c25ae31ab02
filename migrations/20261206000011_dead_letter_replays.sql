-- Replaying dead letters (ListDeadLetters, ReplayDeadLetters): each replay
-- an operator asks for is recorded here, who, when and with what outcome.
--
-- A dead letter is replayed at most once per occurrence: the key is the
-- dead letter and its attempts when it was replayed. A replay locks the
-- dlq_jobs row (FOR UPDATE), reads this table, makes the job (or re-queues
-- the failed job) and writes its row, all in one transaction, so two
-- operators pressing at once on any replicas make one job: the second
-- waits for the first's lock and then answers its recorded outcome. The
-- primary key refuses a second row for the same occurrence whatever the
-- caller. A dead letter recorded again afterwards (the same delivery
-- dead-lettered once more, or the re-queued job failing for good again)
-- has more attempts, so it can be replayed again.
--
-- A replay that failed (error set, job_id NULL) keeps its row; trying it
-- again updates that row (tries + 1), and a success replaces the error.

CREATE TABLE IF NOT EXISTS public.dead_letter_replays (
  dead_letter_id UUID NOT NULL
    REFERENCES public.dlq_jobs (id) ON DELETE CASCADE,
  dead_letter_attempts INTEGER NOT NULL
    CONSTRAINT dead_letter_replays_attempts_positive
      CHECK (dead_letter_attempts >= 1),
  requested_by TEXT NOT NULL
    CONSTRAINT dead_letter_replays_requested_by
      CHECK (octet_length(requested_by) BETWEEN 1 AND 255),
  replayed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  job_id UUID,
  error TEXT,
  tries INTEGER NOT NULL DEFAULT 1
    CONSTRAINT dead_letter_replays_tries_positive CHECK (tries >= 1),
  CONSTRAINT dead_letter_replays_pkey
    PRIMARY KEY (dead_letter_id, dead_letter_attempts),
  CONSTRAINT dead_letter_replays_outcome
    CHECK ((job_id IS NULL) <> (error IS NULL))
);
COMMENT ON TABLE public.dead_letter_replays IS
  'Replays of dead letters (ReplayDeadLetters): one row per dead letter and occurrence.';
COMMENT ON COLUMN public.dead_letter_replays.dead_letter_id IS
  'The dead letter (dlq_jobs.id).';
COMMENT ON COLUMN public.dead_letter_replays.dead_letter_attempts IS
  'Its attempts when replayed: recorded again later, it can be replayed again.';
COMMENT ON COLUMN public.dead_letter_replays.requested_by IS
  'Who asked (ReplayDeadLetters.requested_by), at the latest try.';
COMMENT ON COLUMN public.dead_letter_replays.replayed_at IS
  'When the latest try ran.';
COMMENT ON COLUMN public.dead_letter_replays.job_id IS
  'The job that carries it now (new, or the failed job re-queued); NULL when the replay failed.';
COMMENT ON COLUMN public.dead_letter_replays.error IS
  'Why it could not be replayed; NULL when it was.';
COMMENT ON COLUMN public.dead_letter_replays.tries IS
  'How many replays were tried (a failed one may be tried again).';

-- ListDeadLetters' order (newest first, ties by id) and its keyset pages.
CREATE INDEX IF NOT EXISTS dlq_jobs_last_seen_at_id_idx
  ON public.dlq_jobs (last_seen_at DESC, id DESC);

ALTER TABLE public.dead_letter_replays ENABLE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.dead_letter_replays
  TO anon, authenticated, service_role;
DROP POLICY IF EXISTS dead_letter_replays_service_role_all
  ON public.dead_letter_replays;
CREATE POLICY dead_letter_replays_service_role_all
  ON public.dead_letter_replays
  FOR ALL TO service_role USING (true) WITH CHECK (true);
