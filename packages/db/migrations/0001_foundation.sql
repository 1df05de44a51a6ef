-- Schemas, the scope function, lockdown of PUBLIC, and the one mechanism every tenant table goes through.

-- Nobody but the owner creates anything in our schemas; PUBLIC keeps no EXECUTE on new functions.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO praxa_owner;
CREATE SCHEMA IF NOT EXISTS app AUTHORIZATION praxa_owner;
REVOKE ALL ON SCHEMA app FROM PUBLIC;
GRANT USAGE ON SCHEMA app TO praxa_ingest, praxa_worker, praxa_monitor, praxa_api, praxa_definer, praxa_lifecycle;
GRANT USAGE ON SCHEMA public TO praxa_ingest, praxa_worker, praxa_monitor, praxa_api, praxa_definer, praxa_lifecycle;
ALTER DEFAULT PRIVILEGES FOR ROLE praxa_owner REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE praxa_definer REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- The workspace this transaction is scoped to, or NULL. withWorkspace() sets it with
-- set_config('app.workspace_id', $1, true); after that transaction the setting reads '' (not NULL) on the same
-- pooled connection, and must still mean "no rows": nullif turns '' into NULL, and `x = NULL` matches nothing.
CREATE OR REPLACE FUNCTION app.current_workspace() RETURNS text
  LANGUAGE sql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $$ SELECT NULLIF(pg_catalog.current_setting('app.workspace_id', true), '') $$;
ALTER FUNCTION app.current_workspace() OWNER TO praxa_owner;
REVOKE ALL ON FUNCTION app.current_workspace() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.current_workspace() TO praxa_ingest, praxa_worker, praxa_monitor, praxa_api, praxa_definer, praxa_lifecycle;

-- Every tenant table goes through this: RLS enabled AND forced, one policy for the app roles scoped by the
-- workspace column, one unscoped policy for praxa_definer (the owner of the SECURITY DEFINER functions). Grants are
-- given separately, per role, by each migration. Not executable by any app role.
CREATE OR REPLACE FUNCTION app.enable_tenant_rls(tbl regclass, ws_column text DEFAULT 'workspace_id') RETURNS void
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  name text := (SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid = tbl);
BEGIN
  EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
  EXECUTE pg_catalog.format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
  EXECUTE pg_catalog.format(
    'CREATE POLICY %I ON %s AS PERMISSIVE FOR ALL TO praxa_ingest, praxa_worker, praxa_monitor, praxa_api '
    'USING (%I = (SELECT app.current_workspace())) WITH CHECK (%I = (SELECT app.current_workspace()))',
    name || '_workspace_scope', tbl, ws_column, ws_column);
  EXECUTE pg_catalog.format(
    'CREATE POLICY %I ON %s AS PERMISSIVE FOR ALL TO praxa_definer USING (true) WITH CHECK (true)',
    name || '_definer', tbl);
  EXECUTE pg_catalog.format('REVOKE ALL ON %s FROM PUBLIC', tbl);
END $$;
ALTER FUNCTION app.enable_tenant_rls(regclass, text) OWNER TO praxa_owner;
REVOKE ALL ON FUNCTION app.enable_tenant_rls(regclass, text) FROM PUBLIC;

-- Platform tables (no workspace): RLS forced, no policy for any app role; only praxa_definer reaches them.
CREATE OR REPLACE FUNCTION app.enable_platform_rls(tbl regclass) RETURNS void
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  name text := (SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid = tbl);
BEGIN
  EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
  EXECUTE pg_catalog.format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
  EXECUTE pg_catalog.format(
    'CREATE POLICY %I ON %s AS PERMISSIVE FOR ALL TO praxa_definer USING (true) WITH CHECK (true)',
    name || '_definer', tbl);
  EXECUTE pg_catalog.format('REVOKE ALL ON %s FROM PUBLIC', tbl);
END $$;
ALTER FUNCTION app.enable_platform_rls(regclass) OWNER TO praxa_owner;
REVOKE ALL ON FUNCTION app.enable_platform_rls(regclass) FROM PUBLIC;

-- TypeID check: prefix, '_', 26 Crockford base32 characters whose first is 0-7.
CREATE OR REPLACE FUNCTION app.is_typeid(v text, prefix text) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $$ SELECT v OPERATOR(pg_catalog.~) ('^' || prefix || '_[0-7][0-9a-hjkmnp-tv-z]{25}$') $$;
ALTER FUNCTION app.is_typeid(text, text) OWNER TO praxa_owner;
REVOKE ALL ON FUNCTION app.is_typeid(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.is_typeid(text, text) TO praxa_ingest, praxa_worker, praxa_monitor, praxa_api, praxa_definer;
