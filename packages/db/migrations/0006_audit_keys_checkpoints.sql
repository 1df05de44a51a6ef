-- Audit verification material (issue #6): the public keys that verify events and checkpoints, by key_id, and signed
-- checkpoints over each workspace's RFC 9162 Merkle tree of event hashes. Both append-only.
SET LOCAL ROLE praxa_owner;

-- Public keys only (SubjectPublicKeyInfo DER). A key id, once registered, never changes its key.
CREATE TABLE audit_keys (
  key_id      text PRIMARY KEY CHECK (length(key_id) BETWEEN 1 AND 256 AND key_id ~ '^[!-~]+$'),
  purpose     text NOT NULL CHECK (purpose IN ('event', 'checkpoint')),
  algorithm   text NOT NULL CHECK (algorithm IN ('ed25519', 'ecdsa-p256-sha256')),
  spki        bytea NOT NULL CHECK (length(spki) BETWEEN 32 AND 512),
  created_at  timestamptz NOT NULL DEFAULT now()
);
SELECT app.enable_platform_rls('audit_keys');

CREATE TABLE audit_checkpoints (
  workspace_id  text NOT NULL REFERENCES workspaces(id),
  tree_size     bigint NOT NULL CHECK (tree_size >= 1),
  root_hash     text NOT NULL CHECK (root_hash ~ '^[0-9a-f]{64}$'),
  "timestamp"   timestamptz NOT NULL,
  key_id        text NOT NULL REFERENCES audit_keys(key_id),
  signature     bytea NOT NULL,
  body          bytea NOT NULL,
  PRIMARY KEY (workspace_id, tree_size)
);
SELECT app.enable_tenant_rls('audit_checkpoints');
GRANT SELECT ON audit_checkpoints TO praxa_api;
-- The monitor takes time-based checkpoints: it reads event hashes (the canonical bytes stay unread by it).
GRANT SELECT (workspace_id, seq, hash) ON audit_events TO praxa_monitor;
GRANT SELECT, INSERT ON audit_keys, audit_checkpoints TO praxa_definer;
GRANT SELECT ON audit_chain_heads TO praxa_definer;
RESET ROLE;

CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints FOR EACH STATEMENT EXECUTE FUNCTION app.audit_refuse_change();
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints FOR EACH STATEMENT EXECUTE FUNCTION app.audit_refuse_change();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints FOR EACH STATEMENT EXECUTE FUNCTION app.audit_refuse_change();
CREATE TRIGGER audit_keys_no_update BEFORE UPDATE ON audit_keys FOR EACH STATEMENT EXECUTE FUNCTION app.audit_refuse_change();
CREATE TRIGGER audit_keys_no_delete BEFORE DELETE ON audit_keys FOR EACH STATEMENT EXECUTE FUNCTION app.audit_refuse_change();
CREATE TRIGGER audit_keys_no_truncate BEFORE TRUNCATE ON audit_keys FOR EACH STATEMENT EXECUTE FUNCTION app.audit_refuse_change();

-- worker, monitor, api: register the public half of the key an app signs with. Idempotent for the same key; a
-- different key under a registered id is refused (nobody can swap the key that verifies past events).
CREATE FUNCTION public.audit_register_key(p_key_id text, p_purpose text, p_algorithm text, p_spki bytea) RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE v_existing bytea;
BEGIN
  SELECT k.spki INTO v_existing FROM public.audit_keys k WHERE k.key_id = p_key_id;
  IF FOUND THEN
    IF v_existing <> p_spki THEN
      RAISE EXCEPTION 'a different key is already registered under this key id' USING ERRCODE = 'PXV01';
    END IF;
    RETURN;
  END IF;
  INSERT INTO public.audit_keys (key_id, purpose, algorithm, spki) VALUES (p_key_id, p_purpose, p_algorithm, p_spki)
  ON CONFLICT (key_id) DO NOTHING;
END $$;

-- api, worker, monitor: the key set (public keys) a verifier needs.
CREATE FUNCTION public.audit_keyset() RETURNS TABLE (key_id text, purpose text, algorithm text, spki bytea)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$ SELECT k.key_id, k.purpose, k.algorithm, k.spki FROM public.audit_keys k ORDER BY k.created_at, k.key_id $$;

-- worker, monitor, api: record a signed checkpoint of the scope's chain (at most its current head).
CREATE FUNCTION public.audit_insert_checkpoint(p_tree_size bigint, p_root_hash text, p_timestamp timestamptz, p_key_id text,
                                               p_signature bytea, p_body bytea)
  RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_ws text := app.current_workspace();
  v_head bigint;
BEGIN
  IF v_ws IS NULL THEN
    RAISE EXCEPTION 'checkpoints need a workspace scope' USING ERRCODE = 'PXS01';
  END IF;
  SELECT h.seq INTO v_head FROM public.audit_chain_heads h WHERE h.workspace_id = v_ws;
  IF v_head IS NULL OR p_tree_size > v_head THEN
    RAISE EXCEPTION 'a checkpoint cannot cover events that do not exist' USING ERRCODE = 'PXV01';
  END IF;
  INSERT INTO public.audit_checkpoints (workspace_id, tree_size, root_hash, "timestamp", key_id, signature, body)
  VALUES (v_ws, p_tree_size, p_root_hash, p_timestamp, p_key_id, p_signature, p_body)
  ON CONFLICT (workspace_id, tree_size) DO NOTHING;
END $$;

ALTER FUNCTION public.audit_register_key(text, text, text, bytea) OWNER TO praxa_definer;
ALTER FUNCTION public.audit_keyset() OWNER TO praxa_definer;
ALTER FUNCTION public.audit_insert_checkpoint(bigint, text, timestamptz, text, bytea, bytea) OWNER TO praxa_definer;
REVOKE ALL ON FUNCTION public.audit_register_key(text, text, text, bytea) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.audit_keyset() FROM PUBLIC;
REVOKE ALL ON FUNCTION public.audit_insert_checkpoint(bigint, text, timestamptz, text, bytea, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.audit_register_key(text, text, text, bytea) TO praxa_worker, praxa_monitor, praxa_api;
GRANT EXECUTE ON FUNCTION public.audit_keyset() TO praxa_worker, praxa_monitor, praxa_api;
GRANT EXECUTE ON FUNCTION public.audit_insert_checkpoint(bigint, text, timestamptz, text, bytea, bytea) TO praxa_worker, praxa_monitor, praxa_api;
