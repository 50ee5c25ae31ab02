-- Baseline: the least a batched work loop asks of PostgreSQL, on the seed's
-- table as its story defines it: claim the 50 oldest pending jobs (its
-- created_at index, FOR UPDATE SKIP LOCKED), then complete them, each
-- statement its own transaction. No conversation order, no lease or fencing
-- token, no attempt count, no queue counters: what the service adds to a
-- job's claim and completion is the difference to its work row.
WITH claimable AS (
  SELECT id FROM jobs WHERE status = 'pending'
  ORDER BY created_at LIMIT 50 FOR UPDATE SKIP LOCKED
), claimed AS (
  UPDATE jobs SET status = 'processing' FROM claimable
  WHERE jobs.id = claimable.id RETURNING jobs.id
)
SELECT coalesce(array_agg(id), '{}')::text AS ids FROM claimed \gset
UPDATE jobs SET status = 'complete' WHERE id = ANY (':ids'::uuid[]);
