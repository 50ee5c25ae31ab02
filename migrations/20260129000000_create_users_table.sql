-- Users are identified by phone number (no auth.users: phone-based identity).
CREATE TABLE IF NOT EXISTS public.users (
  phone_number TEXT PRIMARY KEY
    CONSTRAINT users_phone_number_e164 CHECK (phone_number ~ '^\+[0-9]{8,15}$'),
  first_name TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

COMMENT ON TABLE public.users IS 'People who message the product, keyed by phone number.';
COMMENT ON COLUMN public.users.phone_number IS 'E.164: + then 8 to 15 digits.';
COMMENT ON COLUMN public.users.first_name IS 'Display name, e.g. WhatsApp ProfileName; NULL when unknown.';
COMMENT ON COLUMN public.users.created_at IS 'When the user was first seen.';

-- RLS: only the service role may read or write. Table privileges mirror
-- Supabase's defaults, so RLS (not a missing GRANT) is what keeps anon and
-- authenticated out.
ALTER TABLE public.users ENABLE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.users
  TO anon, authenticated, service_role;
DROP POLICY IF EXISTS users_service_role_all ON public.users;
CREATE POLICY users_service_role_all ON public.users
  FOR ALL TO service_role USING (true) WITH CHECK (true);
