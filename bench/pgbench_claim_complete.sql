-- Baseline: claim one pending job of the default queue at priority 0 with
-- FOR UPDATE SKIP LOCKED (from the index claims that ignore order use),
-- then complete it, each statement its own transaction. Run with -M prepared.
UPDATE jobs SET status = 'processing', attempts = attempts + 1
WHERE id = (SELECT id FROM jobs
            WHERE status = 'pending' AND queue = 'default' AND priority = 0
            ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING id AS claimed_id \gset
UPDATE jobs SET status = 'complete' WHERE id = :claimed_id;
