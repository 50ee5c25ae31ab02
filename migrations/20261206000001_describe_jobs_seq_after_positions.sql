-- jobs.seq no longer orders a conversation: since
-- 20261130000000_add_conversations.sql, a conversation's jobs are handed out
-- by position, in commit order. seq stays the enqueue order over all jobs,
-- which claims that ignore conversation order follow and in which a claimed
-- batch is returned. Only its comment changes; released migrations are never
-- edited (the runner refuses an applied file whose contents changed).
COMMENT ON COLUMN public.jobs.seq IS 'Enqueue order over all jobs: claims that ignore conversation order take jobs in it, and a claimed batch is returned in it. Order within a conversation follows position, not seq.';
