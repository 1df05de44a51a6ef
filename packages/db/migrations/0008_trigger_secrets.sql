-- Signed producers (Standard Webhooks, issue #7): each Skill may have `whsec_` secrets that ingest verifies
-- `POST /triggers/:skillId` with. The api seals a new secret to the ingest fleet's own X25519 key and stores only the
-- ciphertext; only ingest, holding the private half, opens it. Several live secrets per Skill allow rotation.
SET LOCAL ROLE praxa_owner;

CREATE TABLE ingest_keys (
  key_id      text PRIMARY KEY CHECK (key_id ~ '^itk_[0-9a-f]{32}$'),
  public_key  bytea NOT NULL CHECK (length(public_key) = 32),
  created_at  timestamptz NOT NULL DEFAULT now()
);
SELECT app.enable_platform_rls('ingest_keys');

CREATE TABLE trigger_secrets (
  workspace_id  text NOT NULL,
  id            text NOT NULL PRIMARY KEY CHECK (app.is_typeid(id, 'tw')),
  skill_id      text NOT NULL,
  ciphertext    bytea NOT NULL CHECK (length(ciphertext) BETWEEN 16 AND 4096),
  key_id        text NOT NULL REFERENCES ingest_keys(key_id),
  created_at    timestamptz NOT NULL DEFAULT now(),
  revoked_at    timestamptz,
  UNIQUE (workspace_id, id),
  FOREIGN KEY (workspace_id, skill_id) REFERENCES skills (workspace_id, id)
);
CREATE INDEX trigger_secrets_skill_idx ON trigger_secrets (skill_id) WHERE revoked_at IS NULL;
SELECT app.enable_tenant_rls('trigger_secrets');
GRANT SELECT (workspace_id, id, skill_id, key_id, created_at, revoked_at) ON trigger_secrets TO praxa_api;
GRANT INSERT ON trigger_secrets TO praxa_api;
GRANT UPDATE (revoked_at) ON trigger_secrets TO praxa_api;
GRANT SELECT, INSERT ON ingest_keys TO praxa_definer;
GRANT SELECT ON trigger_secrets TO praxa_definer;
RESET ROLE;

-- ingest: publish the public half of the key it opens trigger secrets with (idempotent; a key id never changes key).
CREATE FUNCTION public.ingest_register_key(p_key_id text, p_public_key bytea) RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE v_existing bytea;
BEGIN
  SELECT k.public_key INTO v_existing FROM public.ingest_keys k WHERE k.key_id = p_key_id;
  IF FOUND THEN
    IF v_existing <> p_public_key THEN
      RAISE EXCEPTION 'a different key is already registered under this key id' USING ERRCODE = 'PXV01';
    END IF;
    RETURN;
  END IF;
  INSERT INTO public.ingest_keys (key_id, public_key) VALUES (p_key_id, p_public_key) ON CONFLICT (key_id) DO NOTHING;
END $$;

-- api: the newest ingest key, to seal trigger secrets to.
CREATE FUNCTION public.ingest_public_key() RETURNS TABLE (key_id text, public_key bytea)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$ SELECT k.key_id, k.public_key FROM public.ingest_keys k ORDER BY k.created_at DESC, k.key_id LIMIT 1 $$;

-- ingest: a Skill's live trigger secrets (sealed) and its workspace — the skill id from the URL is the only input.
CREATE FUNCTION public.ingest_trigger_secrets(p_skill_id text)
  RETURNS TABLE (workspace_id text, secret_id text, ciphertext bytea, key_id text)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT t.workspace_id, t.id, t.ciphertext, t.key_id FROM public.trigger_secrets t
   WHERE t.skill_id = p_skill_id AND t.revoked_at IS NULL
   ORDER BY t.created_at DESC
   LIMIT 5
$$;

ALTER FUNCTION public.ingest_register_key(text, bytea) OWNER TO praxa_definer;
ALTER FUNCTION public.ingest_public_key() OWNER TO praxa_definer;
ALTER FUNCTION public.ingest_trigger_secrets(text) OWNER TO praxa_definer;
REVOKE ALL ON FUNCTION public.ingest_register_key(text, bytea) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.ingest_public_key() FROM PUBLIC;
REVOKE ALL ON FUNCTION public.ingest_trigger_secrets(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.ingest_register_key(text, bytea) TO praxa_ingest;
GRANT EXECUTE ON FUNCTION public.ingest_public_key() TO praxa_api;
GRANT EXECUTE ON FUNCTION public.ingest_trigger_secrets(text) TO praxa_ingest;
