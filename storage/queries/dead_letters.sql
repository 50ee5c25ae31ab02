-- The dlq_jobs table: what the service could not deliver or process.
-- (Jobs that fail for good are copied here by fail_job and rescue_leases.)
--
-- Blocks are named as in users.sql, which says how to run them by hand.

-- name: record_dead_letter
-- Records a dead letter from source $1 with delivery id $2 ('' for none),
-- reason $3 and raw payload $4 (a JSON object); the same source and
-- delivery id again counts one more attempt and keeps the latest reason
-- and payload.
INSERT INTO dlq_jobs (source, delivery_id, reason, raw_payload)
VALUES ($1, NULLIF($2, ''), $3, $4::jsonb)
ON CONFLICT (source, delivery_id) DO UPDATE
  SET attempts = dlq_jobs.attempts + 1, last_seen_at = now(),
      reason = EXCLUDED.reason, raw_payload = EXCLUDED.raw_payload
RETURNING id, source, delivery_id, reason, raw_payload, attempts,
  extract(epoch FROM first_seen_at), extract(epoch FROM last_seen_at);
