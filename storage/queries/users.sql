-- The users table: statements on a sender's row alone (enqueues create
-- users in the same statement as the job, see jobs_enqueue.sql).
--
-- Each block is one statement the server runs, named by its "-- name:"
-- line: the name of the prepared statement, of the statement= field of
-- database error log lines, and of the statement label of the
-- jobqueue_sql_* metrics. Try one in psql with PREPARE name AS ...; then
-- EXECUTE name(...), or EXPLAIN EXECUTE.

-- name: upsert_user
-- Creates user $1 (phone number) with first name $2 ('' for none), or sets
-- the name of the existing one when $2 is not ''. Returns the user, its
-- creation time (seconds since the epoch) and whether it was created.
INSERT INTO users (phone_number, first_name)
VALUES ($1, NULLIF($2, ''))
ON CONFLICT (phone_number) DO UPDATE
  SET first_name = coalesce(EXCLUDED.first_name, users.first_name)
RETURNING phone_number, first_name, extract(epoch FROM created_at),
  xmax = 0 AS created;
