-- Roles are cluster-wide and created by the bootstrap in src/roles.ts (idempotent; tolerates a concurrent creator).
-- This migration only asserts they exist, so a database is never migrated without them.
DO $$
DECLARE r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['praxa_owner','praxa_definer','praxa_vault_owner','praxa_lifecycle',
                           'praxa_ingest','praxa_worker','praxa_monitor','praxa_api'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
      RAISE EXCEPTION 'role % is missing: run the role bootstrap (pnpm praxa migrate) first', r;
    END IF;
  END LOOP;
END $$;
