-- Reference: what PostgreSQL alone does with the service's batching. Claims
-- up to 50 conversation heads with the service's in-order claim statement,
-- then completes them with one UPDATE, each statement its own transaction.
-- A claim that finds every ready head taken by the others claims none.
-- Jobs per second = tps * 50.
WITH ready AS (
  SELECT head.id AS head_id FROM conversations c
  CROSS JOIN LATERAL (SELECT id, status, run_after FROM jobs j
    WHERE j.source_channel_id = c.source_channel_id
      AND j.status IN ('pending', 'processing')
    ORDER BY j.position LIMIT 1) head
  WHERE c.pending_jobs > 0 AND c.processing_jobs = 0
    AND c.ready_since <= now()
    AND head.status = 'pending' AND head.run_after <= now()
  ORDER BY c.ready_since LIMIT 50 FOR UPDATE OF c SKIP LOCKED
), candidates AS (
  SELECT id AS candidate_id FROM jobs
  WHERE id IN (SELECT head_id FROM ready) FOR UPDATE SKIP LOCKED
), claimed AS (
  UPDATE jobs SET status = 'processing', attempts = attempts + 1,
    lease_token = gen_random_uuid(), worker_id = 'pgbench',
    lease_expires_at = now() + interval '30 seconds'
  FROM candidates WHERE id = candidate_id
    AND status NOT IN ('processing', 'complete', 'failed')
  RETURNING id, lease_token
) SELECT coalesce(array_agg(id), '{}')::text AS ids,
  coalesce(array_agg(lease_token), '{}')::text AS tokens
  FROM claimed \gset
UPDATE jobs SET status = 'complete', lease_token = NULL,
  lease_expires_at = NULL, last_error = NULL
FROM unnest(':ids'::uuid[], ':tokens'::uuid[]) AS t(input_id, token)
WHERE id = input_id AND lease_token = token;
