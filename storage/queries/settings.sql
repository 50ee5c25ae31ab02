-- Session settings, given as values to set_config so that one fixed
-- statement sets them (SET takes no parameters).
-- Blocks are named as in users.sql, which says how to run them by hand.

-- name: session_settings
-- The store's settings: $1 statement timeout and $2 lock timeout in
-- milliseconds, for the session or, with $3 true, for the transaction
-- (transaction pooling). The server abandons a statement within a second
-- of its caller being cut off (see DeadlineWatch) instead of running it to
-- the end, and a statement that waits longer than the lock timeout for a
-- row another session holds gives up (ABORTED, nothing written) instead of
-- waiting with every call batched with it.
-- $4 is the plan cache mode: force_generic_plan for a session that
-- prepares its statements, so that each is planned once per connection
-- (the claims cost more to plan than to run); auto in transaction
-- pooling, where every statement is sent unnamed and planned anyway. No
-- statement is costly enough to gain from JIT compilation, and a generic
-- plan's estimates (with unknown LIMITs) would trigger it: off.
-- $5 'on' when the store announces its changes itself after they commit
-- (JobNotifier::Announce): the jobs triggers then send no NOTIFY from
-- inside its transactions (see migration 20261206000013).
SELECT set_config('statement_timeout', $1, $3),
  set_config('lock_timeout', $2, $3),
  set_config('client_connection_check_interval', '1000', $3),
  set_config('plan_cache_mode', $4, $3),
  set_config('jit', 'off', $3),
  set_config('jobqueue.announces', $5, $3);

-- name: local_statement_timeout
-- Statement timeout $1 (milliseconds) until the transaction ends.
SELECT set_config('statement_timeout', $1, true);
