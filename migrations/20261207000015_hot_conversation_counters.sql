-- An enqueue to a conversation that already has waiting work rewrites only
-- its counters (pending_jobs, last_position). The partial indexes that find
-- ready and waiting conversations named those counters in their
-- predicates, so every such rewrite added an entry to each index. They now
-- name two stored generated flags instead, which such an enqueue leaves as
-- they were: with room left on the page (fillfactor 70), the rewrite is a
-- HOT update and touches no index. A claim or completion that makes a
-- conversation ready or not still changes a flag and its index entries.
ALTER TABLE public.conversations SET (fillfactor = 70);

-- Claimable: pending work and nothing processing.
ALTER TABLE public.conversations
  ADD COLUMN IF NOT EXISTS ready BOOLEAN
    GENERATED ALWAYS AS (pending_jobs > 0 AND processing_jobs = 0) STORED;
-- Waiting: pending work, processing or not (ListConversations).
ALTER TABLE public.conversations
  ADD COLUMN IF NOT EXISTS waiting BOOLEAN
    GENERATED ALWAYS AS (pending_jobs > 0) STORED;

DROP INDEX IF EXISTS public.conversations_queue_priority_ready_idx;
CREATE INDEX conversations_queue_priority_ready_idx
  ON public.conversations (queue, head_priority, ready_since)
  WHERE ready;

DROP INDEX IF EXISTS public.conversations_queue_kind_ready_idx;
CREATE INDEX conversations_queue_kind_ready_idx
  ON public.conversations
     (queue, head_source_type, head_content_type, head_priority, ready_since)
  WHERE ready;

DROP INDEX IF EXISTS public.conversations_maintenance_ready_idx;
CREATE INDEX conversations_maintenance_ready_idx
  ON public.conversations (ready_since)
  WHERE ready AND head_priority >= 0;

-- A claim states `ready`, ListConversations `waiting`: neither can pick
-- the other's index.
DROP INDEX IF EXISTS public.conversations_waiting_idx;
CREATE INDEX conversations_waiting_idx
  ON public.conversations (queue, ready_since, conversation)
  WHERE waiting;

-- As in 20261206000003, with its index's predicate.
CREATE OR REPLACE FUNCTION public.advance_ready_floor() RETURNS INTEGER
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  clock public.conversation_clock;
  settled BOOLEAN;
  earliest TIMESTAMPTZ;
  candidate TIMESTAMPTZ;
  moved INTEGER;
BEGIN
  SELECT * INTO clock FROM public.conversation_clock FOR UPDATE;
  UPDATE public.conversations SET ready_since = clock.ready_floor
  WHERE conversation IN (
    SELECT conversation FROM public.conversations
    WHERE ready AND head_priority >= 0
      AND ready_since < clock.ready_floor
    FOR UPDATE SKIP LOCKED);
  GET DIAGNOSTICS moved = ROW_COUNT;
  settled := clock.next_floor IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM pg_catalog.pg_locks
    WHERE locktype = 'transactionid'
      AND transactionid = ANY (clock.next_floor_writers));
  SELECT min(ready_since) INTO earliest FROM public.conversations
  WHERE ready AND head_priority >= 0
    AND ready_since >= clock.ready_floor;
  IF settled THEN
    clock.ready_floor := greatest(clock.ready_floor,
                                  least(clock.next_floor, earliest));
  END IF;
  candidate := least(earliest, clock_timestamp());
  UPDATE public.conversation_clock
  SET ready_floor = clock.ready_floor, next_floor = candidate,
      next_floor_writers = ARRAY(
        SELECT x.transactionid FROM pg_catalog.pg_locks r
        JOIN pg_catalog.pg_locks x
          ON x.virtualtransaction = r.virtualtransaction
         AND x.locktype = 'transactionid'
        WHERE r.locktype = 'relation'
          AND r.relation = 'public.conversations'::regclass
          AND r.database = (SELECT oid FROM pg_catalog.pg_database
                            WHERE datname = current_database())
          AND r.mode = 'RowExclusiveLock'
          AND r.pid IS DISTINCT FROM pg_backend_pid());
  RETURN moved;
END
$$;
