-- The seed's users and jobs tables as its story defines them, for the
-- benchmark's first baseline: its columns and CHECKs, the foreign key, and
-- its four indexes (the primary key, a partial index on status, user_id,
-- created_at); no trigger, RLS on as in the story. tools/bench loads it
-- into a database of its own (jobqueue_seed) on the same PostgreSQL.
CREATE TABLE public.users (
  phone_number TEXT PRIMARY KEY,
  first_name TEXT,
  created_at TIMESTAMPTZ DEFAULT NOW()
);
CREATE TABLE public.jobs (
  id UUID DEFAULT gen_random_uuid() PRIMARY KEY,
  user_id TEXT REFERENCES users (phone_number),
  source_channel_id TEXT NOT NULL,
  source_type TEXT NOT NULL CHECK (source_type IN ('dm', 'group')),
  user_phone TEXT NOT NULL,
  payload JSONB NOT NULL,
  status TEXT DEFAULT 'pending'
    CHECK (status IN ('pending', 'processing', 'complete', 'failed')),
  created_at TIMESTAMPTZ DEFAULT NOW()
);
CREATE INDEX idx_jobs_status ON public.jobs (status) WHERE status = 'pending';
CREATE INDEX idx_jobs_user_id ON public.jobs (user_id);
CREATE INDEX idx_jobs_created_at ON public.jobs (created_at DESC);
ALTER TABLE public.users ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.jobs ENABLE ROW LEVEL SECURITY;
INSERT INTO public.users (phone_number) VALUES ('+15551000000');
