-- Supabase's API roles, created when missing so that these migrations apply
-- unchanged to a fresh Supabase project and to a plain PostgreSQL.
--   anon, authenticated: public API roles; RLS shows them nothing here.
--   service_role: backend role; BYPASSRLS, as on Supabase.
-- Each CREATE tolerates a concurrent creator (roles are cluster-wide, so two
-- databases being migrated at once may race).
DO $$
DECLARE
  r record;
BEGIN
  FOR r IN
    SELECT * FROM (VALUES ('anon', ''), ('authenticated', ''),
                          ('service_role', ' BYPASSRLS')) AS v(name, extra)
  LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r.name) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I NOLOGIN NOINHERIT%s', r.name, r.extra);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;
      END;
    END IF;
  END LOOP;
END
$$;

GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;

-- Keeps updated_at honest for every writer, including operators' SQL.
CREATE OR REPLACE FUNCTION public.set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;
