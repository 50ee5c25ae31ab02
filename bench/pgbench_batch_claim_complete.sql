-- Reference: what PostgreSQL alone does with the service's batching. Claims
-- up to 50 jobs in conversation order with the service's claim statement,
-- then completes them with one UPDATE, each statement its own transaction.
-- Jobs per second = tps * 50.
WITH candidates AS (
  SELECT id AS candidate_id FROM jobs j
  WHERE status = 'pending' AND run_after <= now()
    AND seq = (SELECT head.seq FROM jobs head
               WHERE head.source_channel_id = j.source_channel_id
                 AND head.status IN ('pending', 'processing')
               ORDER BY head.seq LIMIT 1)
  ORDER BY seq LIMIT 50 FOR UPDATE SKIP LOCKED
), claimed AS (
  UPDATE jobs SET status = 'processing', attempts = attempts + 1,
    lease_token = gen_random_uuid(), worker_id = 'pgbench',
    lease_expires_at = now() + interval '30 seconds'
  FROM candidates WHERE id = candidate_id
  RETURNING id, lease_token
) SELECT array_agg(id)::text AS ids, array_agg(lease_token)::text AS tokens
  FROM claimed \gset
UPDATE jobs SET status = 'complete', lease_token = NULL,
  lease_expires_at = NULL, last_error = NULL
FROM unnest(':ids'::uuid[], ':tokens'::uuid[]) AS t(input_id, token)
WHERE id = input_id AND lease_token = token;
