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

-- name: get_user
-- User $1 (phone number): the user, its first name (NULL when unknown) and
-- its creation time (seconds since the epoch); no row when there is none.
SELECT phone_number, first_name, extract(epoch FROM created_at)
FROM users
WHERE phone_number = $1;

-- name: list_users
-- A page of users, newest first: created in [$1, $2), after the cursor ($3
-- created_at, $4 phone number) in (created_at, phone_number) order, at most
-- $5 rows. A range scan of users_created_at_idx, so a page reads O(page)
-- rows however many users there are.
SELECT phone_number, first_name, extract(epoch FROM created_at)
FROM users
WHERE created_at >= $1::timestamptz AND created_at < $2::timestamptz
  AND (created_at, phone_number) < ($3::timestamptz, $4::text)
-- Qualified, so that it stays the indexed column, never a column of the
-- select list (ordering by epoch seconds would sort instead of scanning).
ORDER BY users.created_at DESC, users.phone_number DESC
LIMIT $5;
