-- Baseline: claim one pending job with FOR UPDATE SKIP LOCKED, then complete
-- it, each statement its own transaction. Run with -M prepared.
UPDATE jobs SET status = 'processing', attempts = attempts + 1
WHERE id = (SELECT id FROM jobs WHERE status = 'pending' ORDER BY seq
            LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING id AS claimed_id \gset
UPDATE jobs SET status = 'complete' WHERE id = :claimed_id;
