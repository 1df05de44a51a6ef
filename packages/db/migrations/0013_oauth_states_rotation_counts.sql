-- Integrations installed through OAuth (issue #5): install states, who installed, the Slack token refresh lock, the
-- trigger-secret list, and tenant-key use counts that survive restarts.
--   * oauth_states: a state the api issued for one workspace and member, stored as SHA-256 only, single-use (consumed
--     by DELETE … RETURNING) and expiring. The state string itself carries the workspace id, so the callback — a
--     browser redirect without an api token — looks it up inside that workspace's scope, never across tenants.
--   * integrations.installed_by: the member whose state completed the install.
--   * trigger_secrets.created_by / fingerprint: listed by the api (never the secret).
--   * vault_lock_for_run: the worker's read-for-update of a vault secret, for a run it holds — serializes Slack token
--     refreshes (Slack revokes a refresh token on use, so two concurrent refreshes would lose the pair).
--   * tenant_keys.uses: wraps made under a tenant key, reserved in Postgres BEFORE each wrap (a crash over-counts,
--     never under-counts), so the forced rotation below 2^32 holds across processes and restarts.
SET LOCAL ROLE praxa_owner;

CREATE TABLE oauth_states (
  workspace_id  text NOT NULL REFERENCES workspaces(id),
  state_sha256  text NOT NULL PRIMARY KEY CHECK (state_sha256 ~ '^[0-9a-f]{64}$'),
  provider      text NOT NULL CHECK (provider IN ('github', 'slack')),
  member_id     text NOT NULL,
  redirect_uri  text CHECK (length(redirect_uri) BETWEEN 1 AND 500),
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  CHECK (expires_at > created_at AND expires_at <= created_at + interval '1 hour'),
  FOREIGN KEY (workspace_id, member_id) REFERENCES workspace_members (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX oauth_states_expiry_idx ON oauth_states (workspace_id, expires_at);
SELECT app.enable_tenant_rls('oauth_states');
GRANT SELECT, INSERT, DELETE ON oauth_states TO praxa_api;

ALTER TABLE integrations ADD COLUMN installed_by text;
ALTER TABLE integrations ADD CONSTRAINT integrations_installed_by_fk
  FOREIGN KEY (workspace_id, installed_by) REFERENCES workspace_members (workspace_id, id);
GRANT UPDATE (installed_by) ON integrations TO praxa_api;

ALTER TABLE trigger_secrets ADD COLUMN created_by text;
ALTER TABLE trigger_secrets ADD COLUMN fingerprint text CHECK (length(fingerprint) = 4);
ALTER TABLE trigger_secrets ADD CONSTRAINT trigger_secrets_created_by_fk
  FOREIGN KEY (workspace_id, created_by) REFERENCES workspace_members (workspace_id, id);
GRANT SELECT (created_by, fingerprint) ON trigger_secrets TO praxa_api;

ALTER TABLE tenant_keys ADD COLUMN uses bigint NOT NULL DEFAULT 0 CHECK (uses >= 0);
RESET ROLE;

-- worker: a vault secret of the run's workspace, locked FOR UPDATE until the caller's transaction ends (no row: no
-- lock, no error). Same rules as vault_try_read_for_run: a run it holds, with a live lease.
CREATE FUNCTION public.vault_lock_for_run(p_run_id text, p_token uuid, p_name text)
  RETURNS TABLE (ciphertext bytea, key_id text, provider text, purpose text, expires_at timestamptz)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE v_ws text := app.check_run_lease(p_run_id, p_token);
BEGIN
  RETURN QUERY SELECT s.ciphertext, s.key_id, s.provider, s.purpose, s.expires_at
                 FROM vault.secrets s WHERE s.workspace_id = v_ws AND s.name = p_name
                 FOR UPDATE;
END $$;

-- worker (keys job, under the lease): reserve one wrap under the tenant's active key; the new count, or NULL when the
-- key is at its limit (or is not the tenant's active key) — rotate it then.
CREATE FUNCTION public.keys_reserve_tenant_key_use(p_workspace_id text, p_token uuid, p_tenant_key_id text, p_limit bigint)
  RETURNS bigint
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_tenant text := app.check_key_lease(p_workspace_id, p_token);
  v_uses bigint;
BEGIN
  IF p_limit IS NULL OR p_limit < 1 OR p_limit > 1073741824 THEN
    RAISE EXCEPTION 'the usage limit must be in 1..2^30' USING ERRCODE = 'PXV01';
  END IF;
  UPDATE public.tenant_keys t SET uses = t.uses + 1
   WHERE t.key_id = p_tenant_key_id AND t.tenant_id = v_tenant AND t.status = 'active' AND t.uses < p_limit
  RETURNING t.uses INTO v_uses;
  RETURN v_uses;
END $$;

-- worker (keys job, under the lease): retire the tenant's active key and install a new one in its place. False when
-- p_old_key_id is no longer the active key (another workspace of the tenant rotated first): read the state again.
-- Workspace keys wrapped under the retired key still open (unwrapping is never limited).
CREATE FUNCTION public.keys_rotate_tenant_key(p_workspace_id text, p_token uuid, p_old_key_id text, p_new_key_id text,
                                              p_wrapped bytea, p_kms_ref text)
  RETURNS boolean
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE v_tenant text := app.check_key_lease(p_workspace_id, p_token);
BEGIN
  UPDATE public.tenant_keys t SET status = 'retired'
   WHERE t.key_id = p_old_key_id AND t.tenant_id = v_tenant AND t.status = 'active';
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  INSERT INTO public.tenant_keys (tenant_id, key_id, wrapped_key, kms_key_ref) VALUES (v_tenant, p_new_key_id, p_wrapped, p_kms_ref);
  RETURN true;
END $$;

ALTER FUNCTION public.vault_lock_for_run(text, uuid, text) OWNER TO praxa_definer;
ALTER FUNCTION public.keys_reserve_tenant_key_use(text, uuid, text, bigint) OWNER TO praxa_definer;
ALTER FUNCTION public.keys_rotate_tenant_key(text, uuid, text, text, bytea, text) OWNER TO praxa_definer;
REVOKE ALL ON FUNCTION public.vault_lock_for_run(text, uuid, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.keys_reserve_tenant_key_use(text, uuid, text, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.keys_rotate_tenant_key(text, uuid, text, text, bytea, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.vault_lock_for_run(text, uuid, text) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.keys_reserve_tenant_key_use(text, uuid, text, bigint) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.keys_rotate_tenant_key(text, uuid, text, text, bytea, text) TO praxa_worker;
