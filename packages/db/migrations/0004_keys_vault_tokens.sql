-- Keys, the vault, api tokens and BYOK credential records (issue #5, database side).
-- Key material is opaque here: crypto seals and wraps before anything reaches SQL. Who may read what is decided by
-- grants and SECURITY DEFINER functions:
--   * the vault (schema `vault`, owned by praxa_vault_owner) is reachable by no login role at all; one function writes
--     (vault_put_secret, workspace from the scope), one reads, and only for a run the worker holds (vault_read_for_run);
--   * a workspace's public key is read through workspace_public_key(); nobody has UPDATE on it;
--   * wrapped private keys are readable only by the worker, for a run it holds, or under a key-operation lease.

-- ── the vault ─────────────────────────────────────────────────────────────────────────────────────────────────────
CREATE SCHEMA vault AUTHORIZATION praxa_vault_owner;
REVOKE ALL ON SCHEMA vault FROM PUBLIC;
GRANT USAGE ON SCHEMA vault TO praxa_definer;

SET LOCAL ROLE praxa_vault_owner;
CREATE TABLE vault.secrets (
  workspace_id  text NOT NULL,
  name          text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9._:/-]{0,127}$'),
  provider      text NOT NULL CHECK (provider ~ '^[a-z0-9_-]{1,32}$'),
  purpose       text NOT NULL CHECK (purpose ~ '^[a-z0-9_.-]{1,64}$'),
  ciphertext    bytea NOT NULL CHECK (length(ciphertext) BETWEEN 16 AND 65536),
  key_id        text NOT NULL,
  expires_at    timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, name)
);
ALTER TABLE vault.secrets ENABLE ROW LEVEL SECURITY;
ALTER TABLE vault.secrets FORCE ROW LEVEL SECURITY;
CREATE POLICY secrets_definer ON vault.secrets AS PERMISSIVE FOR ALL TO praxa_definer USING (true) WITH CHECK (true);
REVOKE ALL ON vault.secrets FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON vault.secrets TO praxa_definer;
RESET ROLE;

-- ── keys ──────────────────────────────────────────────────────────────────────────────────────────────────────────
SET LOCAL ROLE praxa_owner;

-- Tenant data keys, as KMS returned them (wrapped under the KMS key with EncryptionContext {tenant_id}).
CREATE TABLE tenant_keys (
  tenant_id     text NOT NULL REFERENCES tenants(id),
  key_id        text PRIMARY KEY CHECK (key_id ~ '^tdk_[0-9a-z_-]{8,64}$'),
  wrapped_key   bytea NOT NULL,
  kms_key_ref   text NOT NULL,
  status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'retired', 'destroyed')),
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX tenant_keys_one_active ON tenant_keys (tenant_id) WHERE status = 'active';
SELECT app.enable_platform_rls('tenant_keys');

-- Workspace key pairs (X25519): the public half is plain data; the private half is wrapped by the tenant key.
CREATE TABLE workspace_keys (
  workspace_id         text NOT NULL REFERENCES workspaces(id),
  key_id               text PRIMARY KEY CHECK (key_id ~ '^wk_[0-9a-z_-]{8,64}$'),
  tenant_key_id        text NOT NULL REFERENCES tenant_keys(key_id),
  public_key           bytea NOT NULL CHECK (length(public_key) = 32),
  wrapped_private_key  bytea,
  status               text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'retired', 'destroyed')),
  created_at           timestamptz NOT NULL DEFAULT now(),
  retired_at           timestamptz,
  destroyed_at         timestamptz,
  CHECK ((status = 'destroyed') = (wrapped_private_key IS NULL))
);
CREATE UNIQUE INDEX workspace_keys_one_active ON workspace_keys (workspace_id) WHERE status = 'active';
SELECT app.enable_platform_rls('workspace_keys');

-- The key-operation lease: one key job per workspace at a time (create, rotate, destroy).
CREATE TABLE key_operations (
  workspace_id      text PRIMARY KEY REFERENCES workspaces(id),
  lease_token       uuid NOT NULL,
  lease_holder      text NOT NULL,
  lease_expires_at  timestamptz NOT NULL
);
SELECT app.enable_platform_rls('key_operations');

-- ── api tokens ────────────────────────────────────────────────────────────────────────────────────────────────────
-- A token is `praxa_tk_<workspace id>.<token id>.<secret>`; only SHA-256(secret) is stored. Minted through definer
-- functions: `automation` by the api, `human` only by an operator (CLI). The workspace id in the token scopes the
-- lookup, so authentication never searches across tenants.
CREATE TABLE api_tokens (
  workspace_id  text NOT NULL REFERENCES workspaces(id),
  id            text NOT NULL PRIMARY KEY CHECK (app.is_typeid(id, 'tk')),
  member_id     text NOT NULL,
  kind          text NOT NULL CHECK (kind IN ('human', 'automation')),
  name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  secret_sha256 text NOT NULL CHECK (secret_sha256 ~ '^[0-9a-f]{64}$'),
  expires_at    timestamptz NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  revoked_at    timestamptz,
  UNIQUE (workspace_id, id),
  FOREIGN KEY (workspace_id, member_id) REFERENCES workspace_members (workspace_id, id)
);
SELECT app.enable_tenant_rls('api_tokens');
GRANT SELECT (workspace_id, id, member_id, kind, name, expires_at, created_at, revoked_at) ON api_tokens TO praxa_api;
GRANT UPDATE (revoked_at) ON api_tokens TO praxa_api;

-- ── BYOK model credentials: the record; the secret itself is in the vault ──────────────────────────────────────────
CREATE TABLE llm_credentials (
  workspace_id  text NOT NULL REFERENCES workspaces(id),
  id            text NOT NULL PRIMARY KEY CHECK (app.is_typeid(id, 'cr')),
  provider      text NOT NULL CHECK (provider IN ('anthropic', 'bedrock', 'vertex')),
  fingerprint   text NOT NULL CHECK (length(fingerprint) = 4),
  vault_name    text NOT NULL,
  created_by    text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, id),
  UNIQUE (workspace_id, vault_name),
  FOREIGN KEY (workspace_id, created_by) REFERENCES workspace_members (workspace_id, id)
);
SELECT app.enable_tenant_rls('llm_credentials');
GRANT SELECT, INSERT, DELETE ON llm_credentials TO praxa_api;
GRANT SELECT ON llm_credentials TO praxa_worker;

GRANT SELECT ON tenants, workspaces, workspace_members TO praxa_definer;
GRANT SELECT, INSERT, UPDATE ON tenant_keys, workspace_keys TO praxa_definer;
GRANT SELECT, INSERT, UPDATE, DELETE ON key_operations TO praxa_definer;
GRANT SELECT, INSERT, UPDATE ON api_tokens TO praxa_definer;
RESET ROLE;

-- ── SECURITY DEFINER functions ────────────────────────────────────────────────────────────────────────────────────

-- api, worker: the one write path into the vault. The workspace is the scope's, never an argument.
CREATE FUNCTION public.vault_put_secret(p_name text, p_provider text, p_purpose text, p_ciphertext bytea, p_key_id text,
                                        p_expires_at timestamptz DEFAULT NULL)
  RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE v_ws text := app.current_workspace();
BEGIN
  IF v_ws IS NULL THEN
    RAISE EXCEPTION 'vault writes need a workspace scope' USING ERRCODE = 'PXS01';
  END IF;
  PERFORM 1 FROM public.workspaces w WHERE w.id = v_ws;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'workspace not found' USING ERRCODE = 'PXN01';
  END IF;
  INSERT INTO vault.secrets (workspace_id, name, provider, purpose, ciphertext, key_id, expires_at)
  VALUES (v_ws, p_name, p_provider, p_purpose, p_ciphertext, p_key_id, p_expires_at)
  ON CONFLICT (workspace_id, name) DO UPDATE
     SET provider = EXCLUDED.provider, purpose = EXCLUDED.purpose, ciphertext = EXCLUDED.ciphertext,
         key_id = EXCLUDED.key_id, expires_at = EXCLUDED.expires_at, updated_at = clock_timestamp();
END $$;

-- api: delete a secret of the scope's workspace.
CREATE FUNCTION public.vault_delete_secret(p_name text) RETURNS boolean
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE v_n integer;
BEGIN
  DELETE FROM vault.secrets s WHERE s.workspace_id = app.current_workspace() AND s.name = p_name;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n > 0;
END $$;

-- worker: read a sealed secret for a run it holds (lease checked in Postgres; the secret must be the run's workspace's).
CREATE FUNCTION public.vault_read_for_run(p_run_id text, p_token uuid, p_name text)
  RETURNS TABLE (ciphertext bytea, key_id text, provider text, purpose text, expires_at timestamptz)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE v_ws text := app.check_run_lease(p_run_id, p_token);
BEGIN
  RETURN QUERY SELECT s.ciphertext, s.key_id, s.provider, s.purpose, s.expires_at
                 FROM vault.secrets s WHERE s.workspace_id = v_ws AND s.name = p_name;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'secret not found' USING ERRCODE = 'PXN01';
  END IF;
END $$;

-- api, worker: the active public key of the scope's workspace (sealing needs nothing else).
CREATE FUNCTION public.workspace_public_key() RETURNS TABLE (key_id text, public_key bytea)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT k.key_id, k.public_key FROM public.workspace_keys k
   WHERE k.workspace_id = app.current_workspace() AND k.status = 'active'
$$;

-- worker: the wrapped private keys (active and retired, not destroyed) of the run's workspace, with their tenant key,
-- for a run it holds — what openCredentialsForRun needs, and nothing more.
CREATE FUNCTION public.workspace_keys_for_run(p_run_id text, p_token uuid)
  RETURNS TABLE (key_id text, status text, wrapped_private_key bytea, tenant_id text, tenant_key_id text,
                 tenant_wrapped_key bytea, kms_key_ref text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE v_ws text := app.check_run_lease(p_run_id, p_token);
BEGIN
  RETURN QUERY
    SELECT k.key_id, k.status, k.wrapped_private_key, t.tenant_id, t.key_id, t.wrapped_key, t.kms_key_ref
      FROM public.workspace_keys k JOIN public.tenant_keys t ON t.key_id = k.tenant_key_id
     WHERE k.workspace_id = v_ws AND k.status <> 'destroyed'
     ORDER BY k.created_at DESC;
END $$;

-- The key-operation lease check, shared by the keys functions below.
CREATE FUNCTION app.check_key_lease(p_workspace_id text, p_token uuid) RETURNS text
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE v_tenant text;
BEGIN
  PERFORM 1 FROM public.key_operations o
   WHERE o.workspace_id = p_workspace_id AND o.lease_token = p_token AND o.lease_expires_at > clock_timestamp()
   FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'key-operation lease lost' USING ERRCODE = 'PXL01';
  END IF;
  SELECT w.tenant_id INTO v_tenant FROM public.workspaces w WHERE w.id = p_workspace_id;
  RETURN v_tenant;
END $$;

-- worker (keys job): take the workspace's key-operation lease; NULL if another holder's lease is live.
CREATE FUNCTION public.keys_acquire_operation(p_workspace_id text, p_holder text, p_seconds integer DEFAULT 60)
  RETURNS uuid
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE v_token uuid := gen_random_uuid();
BEGIN
  PERFORM 1 FROM public.workspaces w WHERE w.id = p_workspace_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'workspace not found' USING ERRCODE = 'PXN01';
  END IF;
  INSERT INTO public.key_operations AS o (workspace_id, lease_token, lease_holder, lease_expires_at)
  VALUES (p_workspace_id, v_token, p_holder, clock_timestamp() + make_interval(secs => LEAST(GREATEST(p_seconds, 5), 600)))
  ON CONFLICT (workspace_id) DO UPDATE
     SET lease_token = EXCLUDED.lease_token, lease_holder = EXCLUDED.lease_holder, lease_expires_at = EXCLUDED.lease_expires_at
   WHERE o.lease_expires_at <= clock_timestamp();
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  RETURN v_token;
END $$;

CREATE FUNCTION public.keys_release_operation(p_workspace_id text, p_token uuid) RETURNS void
  LANGUAGE sql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$ DELETE FROM public.key_operations o WHERE o.workspace_id = p_workspace_id AND o.lease_token = p_token $$;

-- worker (keys job, under the lease): the workspace's tenant, its active tenant key and live workspace keys.
CREATE FUNCTION public.keys_state(p_workspace_id text, p_token uuid)
  RETURNS TABLE (tenant_id text, tenant_key_id text, tenant_wrapped_key bytea, kms_key_ref text,
                 workspace_key_id text, workspace_key_status text, wrapped_private_key bytea, workspace_key_tenant_key_id text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE v_tenant text := app.check_key_lease(p_workspace_id, p_token);
BEGIN
  RETURN QUERY
    SELECT v_tenant, t.key_id, t.wrapped_key, t.kms_key_ref, k.key_id, k.status, k.wrapped_private_key, k.tenant_key_id
      FROM (SELECT 1) one
      LEFT JOIN public.tenant_keys t ON t.tenant_id = v_tenant AND t.status = 'active'
      LEFT JOIN public.workspace_keys k ON k.workspace_id = p_workspace_id AND k.status <> 'destroyed';
END $$;

-- worker (keys job): record a new tenant data key (only if the tenant has no active one).
CREATE FUNCTION public.keys_install_tenant_key(p_workspace_id text, p_token uuid, p_key_id text, p_wrapped bytea, p_kms_ref text)
  RETURNS boolean
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE v_tenant text := app.check_key_lease(p_workspace_id, p_token);
BEGIN
  INSERT INTO public.tenant_keys (tenant_id, key_id, wrapped_key, kms_key_ref) VALUES (v_tenant, p_key_id, p_wrapped, p_kms_ref)
  ON CONFLICT DO NOTHING;
  RETURN FOUND;
END $$;

-- worker (keys job): install a new active workspace key pair; the previous active key is retired (kept, so old
-- ciphertexts still open until they are re-sealed).
CREATE FUNCTION public.keys_install_workspace_key(p_workspace_id text, p_token uuid, p_key_id text, p_tenant_key_id text,
                                                  p_public_key bytea, p_wrapped_private_key bytea)
  RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE v_tenant text := app.check_key_lease(p_workspace_id, p_token);
BEGIN
  PERFORM 1 FROM public.tenant_keys t WHERE t.key_id = p_tenant_key_id AND t.tenant_id = v_tenant AND t.status = 'active';
  IF NOT FOUND THEN
    RAISE EXCEPTION 'the tenant key is not this workspace''s active tenant key' USING ERRCODE = 'PXV01';
  END IF;
  UPDATE public.workspace_keys SET status = 'retired', retired_at = clock_timestamp()
   WHERE workspace_id = p_workspace_id AND status = 'active';
  INSERT INTO public.workspace_keys (workspace_id, key_id, tenant_key_id, public_key, wrapped_private_key)
  VALUES (p_workspace_id, p_key_id, p_tenant_key_id, p_public_key, p_wrapped_private_key);
END $$;

-- worker (keys job): shred a workspace key — its wrapped private half is destroyed, so nothing sealed to it opens again.
CREATE FUNCTION public.keys_destroy_workspace_key(p_workspace_id text, p_token uuid, p_key_id text) RETURNS boolean
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_tenant text := app.check_key_lease(p_workspace_id, p_token);
  v_n integer;
BEGIN
  UPDATE public.workspace_keys
     SET status = 'destroyed', wrapped_private_key = NULL, destroyed_at = clock_timestamp()
   WHERE workspace_id = p_workspace_id AND key_id = p_key_id AND status <> 'destroyed';
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n = 1;
END $$;

-- api: mint an automation token for a member of the scope's workspace (only the SHA-256 of its secret is stored).
CREATE FUNCTION public.api_mint_automation_token(p_token_id text, p_member_id text, p_name text, p_secret_sha256 text,
                                                 p_expires_at timestamptz)
  RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE v_ws text := app.current_workspace();
BEGIN
  IF v_ws IS NULL THEN
    RAISE EXCEPTION 'minting needs a workspace scope' USING ERRCODE = 'PXS01';
  END IF;
  IF p_expires_at <= clock_timestamp() OR p_expires_at > clock_timestamp() + interval '366 days' THEN
    RAISE EXCEPTION 'a token expires within a year' USING ERRCODE = 'PXV01';
  END IF;
  INSERT INTO public.api_tokens (workspace_id, id, member_id, kind, name, secret_sha256, expires_at)
  VALUES (v_ws, p_token_id, p_member_id, 'automation', p_name, p_secret_sha256, p_expires_at);
END $$;

-- operator (CLI): mint a human token. Executable only by praxa_owner members.
CREATE FUNCTION public.admin_mint_human_token(p_workspace_id text, p_token_id text, p_member_id text, p_name text,
                                              p_secret_sha256 text, p_expires_at timestamptz)
  RETURNS void
  LANGUAGE sql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  INSERT INTO public.api_tokens (workspace_id, id, member_id, kind, name, secret_sha256, expires_at)
  VALUES (p_workspace_id, p_token_id, p_member_id, 'human', p_name, p_secret_sha256, p_expires_at)
$$;

-- api: authenticate a token. The lookup is by (workspace, token id) from the token itself — never across tenants.
CREATE FUNCTION public.api_authenticate(p_workspace_id text, p_token_id text, p_secret_sha256 text)
  RETURNS TABLE (member_id text, role text, kind text, expires_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT t.member_id, m.role, t.kind, t.expires_at
    FROM public.api_tokens t
    JOIN public.workspace_members m ON m.workspace_id = t.workspace_id AND m.id = t.member_id
   WHERE t.workspace_id = p_workspace_id AND t.id = p_token_id AND t.secret_sha256 = p_secret_sha256
     AND t.revoked_at IS NULL AND t.expires_at > clock_timestamp()
$$;

DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN
    SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
      JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     WHERE p.prosecdef AND n.nspname IN ('public', 'app')
  LOOP
    EXECUTE pg_catalog.format('ALTER FUNCTION %s OWNER TO praxa_definer', f);
    EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
END $$;

GRANT EXECUTE ON FUNCTION public.vault_put_secret(text, text, text, bytea, text, timestamptz) TO praxa_api, praxa_worker;
GRANT EXECUTE ON FUNCTION public.vault_delete_secret(text) TO praxa_api;
GRANT EXECUTE ON FUNCTION public.vault_read_for_run(text, uuid, text) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.workspace_public_key() TO praxa_api, praxa_worker;
GRANT EXECUTE ON FUNCTION public.workspace_keys_for_run(text, uuid) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.keys_acquire_operation(text, text, integer) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.keys_release_operation(text, uuid) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.keys_state(text, uuid) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.keys_install_tenant_key(text, uuid, text, bytea, text) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.keys_install_workspace_key(text, uuid, text, text, bytea, bytea) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.keys_destroy_workspace_key(text, uuid, text) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.api_mint_automation_token(text, text, text, text, timestamptz) TO praxa_api;
GRANT EXECUTE ON FUNCTION public.admin_mint_human_token(text, text, text, text, text, timestamptz) TO praxa_owner;
GRANT EXECUTE ON FUNCTION public.api_authenticate(text, text, text) TO praxa_api;
