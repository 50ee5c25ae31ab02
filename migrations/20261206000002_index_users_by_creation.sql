-- ListUsers pages users newest first by (created_at, phone_number), the
-- order of this index, so a page is a range scan that reads only its own
-- rows (and one more, which tells whether another page follows) however
-- many users there are. The table, its constraints and its RLS policy are
-- unchanged.
CREATE INDEX IF NOT EXISTS users_created_at_idx
  ON public.users (created_at DESC, phone_number DESC);
