-- The service announces its own changes after they commit; the triggers
-- keep notifying for every other writer (psql, a Supabase client).
--
-- A transaction that notifies takes a database-wide lock at commit and
-- holds it until the commit is durable, so notifying transactions commit
-- one at a time: with a NOTIFY in each enqueue and completion, the jobs
-- table took half the writes per second it takes without. The service's
-- sessions set jobqueue.announces to 'on' (storage/queries/settings.sql)
-- and send one NOTIFY per batch of changes from a connection of their own
-- (storage/job_notifier.h), outside the transactions that wrote.
DROP TRIGGER IF EXISTS jobs_notify_insert ON public.jobs;
CREATE TRIGGER jobs_notify_insert AFTER INSERT ON public.jobs
  FOR EACH STATEMENT
  WHEN (current_setting('jobqueue.announces', true) IS DISTINCT FROM 'on')
  EXECUTE FUNCTION public.notify_jobs_changed();
DROP TRIGGER IF EXISTS jobs_notify_status ON public.jobs;
CREATE TRIGGER jobs_notify_status AFTER UPDATE OF status ON public.jobs
  FOR EACH ROW
  WHEN (NEW.status <> 'processing'
        AND current_setting('jobqueue.announces', true) IS DISTINCT FROM 'on')
  EXECUTE FUNCTION public.notify_jobs_changed();
