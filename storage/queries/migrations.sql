-- The migration runner's own statements (the migrations themselves are the
-- files of migrations/). It records what it applied in Supabase's history
-- table, so a database migrated by the Supabase CLI is recognized.
-- Blocks are named as in users.sql, which says how to run them by hand.

-- name: lock_migrations
-- Serializes migration runners until the transaction ends: $1 is
-- kMigrationLockKey of storage/advisory_locks.h. Transaction-scoped, so it
-- works through a transaction pooler, where a session lock could be taken
-- on one server connection and never released.
SELECT pg_advisory_xact_lock($1);

-- name: create_migration_history
-- The history table, when missing, with the columns the runner reads.
-- Several statements: run as a script, never prepared.
CREATE SCHEMA IF NOT EXISTS supabase_migrations;
CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations
  (version text NOT NULL PRIMARY KEY);
ALTER TABLE supabase_migrations.schema_migrations
  ADD COLUMN IF NOT EXISTS statements text[],
  ADD COLUMN IF NOT EXISTS name text;

-- name: migration_statements
-- The statements recorded for version $1 (no row: not applied).
SELECT coalesce(array_to_string(statements, ';'), '')
FROM supabase_migrations.schema_migrations
WHERE version = $1;

-- name: record_migration
-- Records version $1, named $2, applied with SQL text $3.
INSERT INTO supabase_migrations.schema_migrations (version, name, statements)
VALUES ($1, $2, ARRAY[$3]);
