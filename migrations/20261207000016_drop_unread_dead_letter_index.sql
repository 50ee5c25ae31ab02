-- dlq_jobs_last_seen_at_idx (last_seen_at DESC) is a prefix of
-- dlq_jobs_last_seen_at_id_idx (last_seen_at DESC, id DESC), which
-- ListDeadLetters reads: no statement reads the shorter one, and every dead
-- letter written or delivered again added an entry to both.
-- storage/named_queries_test.cc fails on an index no statement reads.
DROP INDEX IF EXISTS public.dlq_jobs_last_seen_at_idx;
