-- The audit log (issue #6, storage): append-only, one hash chain per workspace.
-- No login role holds INSERT, UPDATE, DELETE or TRUNCATE on these tables. Appends go through two definer functions in
-- one transaction (lock the head, then insert what continues it); statement-level triggers refuse UPDATE always,
-- DELETE unless the role is praxa_lifecycle (retention and erasure), and TRUNCATE — statement-level so they fire even
-- for the owner, whom forced RLS shows no rows.
SET LOCAL ROLE praxa_owner;

CREATE TABLE audit_chain_heads (
  workspace_id  text PRIMARY KEY REFERENCES workspaces(id),
  seq           bigint NOT NULL CHECK (seq >= 0),
  head_hash     text NOT NULL CHECK (head_hash ~ '^[0-9a-f]{64}$'),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
SELECT app.enable_tenant_rls('audit_chain_heads');

CREATE TABLE audit_events (
  workspace_id  text NOT NULL REFERENCES workspaces(id),
  seq           bigint NOT NULL CHECK (seq >= 1),
  id            text NOT NULL UNIQUE CHECK (app.is_typeid(id, 'ae')),
  kind          text NOT NULL CHECK (kind ~ '^[a-z]+(\.[a-z_]+)+$'),
  skill_id      text,
  run_id        text,
  step          integer,
  trigger       text NOT NULL,
  occurred_at   timestamptz NOT NULL,
  prev_hash     text NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
  hash          text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
  key_id        text NOT NULL,
  signature     text NOT NULL,
  canonical     bytea NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, seq)
);
-- A retried run never appends twice: one event per (run, step, kind).
CREATE UNIQUE INDEX audit_events_run_step_kind ON audit_events (workspace_id, run_id, step, kind) WHERE run_id IS NOT NULL;
CREATE INDEX audit_events_skill_idx ON audit_events (workspace_id, skill_id, occurred_at, seq);
CREATE INDEX audit_events_run_idx ON audit_events (workspace_id, run_id, seq);
CREATE INDEX audit_events_trigger_idx ON audit_events (workspace_id, trigger, occurred_at, seq);
CREATE INDEX audit_events_time_idx ON audit_events (workspace_id, occurred_at, seq);
SELECT app.enable_tenant_rls('audit_events');

GRANT SELECT ON audit_events TO praxa_api;
GRANT SELECT, INSERT ON audit_events TO praxa_definer;
GRANT SELECT, INSERT, UPDATE ON audit_chain_heads TO praxa_definer;
RESET ROLE;

CREATE FUNCTION app.audit_refuse_change() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_user = 'praxa_lifecycle' THEN
    RETURN NULL;
  END IF;
  RAISE EXCEPTION 'the audit log is append-only: % refused', TG_OP USING ERRCODE = 'PXA01';
END $$;
ALTER FUNCTION app.audit_refuse_change() OWNER TO praxa_owner;
REVOKE ALL ON FUNCTION app.audit_refuse_change() FROM PUBLIC;

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events FOR EACH STATEMENT EXECUTE FUNCTION app.audit_refuse_change();
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events FOR EACH STATEMENT EXECUTE FUNCTION app.audit_refuse_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events FOR EACH STATEMENT EXECUTE FUNCTION app.audit_refuse_change();
CREATE TRIGGER audit_chain_heads_no_delete BEFORE DELETE ON audit_chain_heads FOR EACH STATEMENT EXECUTE FUNCTION app.audit_refuse_change();
CREATE TRIGGER audit_chain_heads_no_truncate BEFORE TRUNCATE ON audit_chain_heads FOR EACH STATEMENT EXECUTE FUNCTION app.audit_refuse_change();

-- worker, monitor, api: lock the scope's chain head for this transaction and return it (creating it at the genesis
-- hash for a workspace's first event). The caller builds and signs the next event, then calls audit_append_event.
CREATE FUNCTION public.audit_lock_head(p_genesis_hash text) RETURNS TABLE (seq bigint, head_hash text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE v_ws text := app.current_workspace();
BEGIN
  IF v_ws IS NULL THEN
    RAISE EXCEPTION 'audit appends need a workspace scope' USING ERRCODE = 'PXS01';
  END IF;
  IF p_genesis_hash <> encode(sha256(convert_to('praxa/audit/v1/genesis|' || v_ws, 'UTF8')), 'hex') THEN
    RAISE EXCEPTION 'wrong genesis hash for this workspace' USING ERRCODE = 'PXV01';
  END IF;
  INSERT INTO public.audit_chain_heads (workspace_id, seq, head_hash) VALUES (v_ws, 0, p_genesis_hash)
  ON CONFLICT (workspace_id) DO NOTHING;
  RETURN QUERY SELECT h.seq, h.head_hash FROM public.audit_chain_heads h WHERE h.workspace_id = v_ws FOR UPDATE;
END $$;

-- worker, monitor, api: insert the event that continues the locked head. The workspace is the scope's; a seq or
-- prev_hash that does not continue the head is refused; the hash is recomputed here from the stored bytes.
CREATE FUNCTION public.audit_append_event(p_seq bigint, p_prev_hash text, p_hash text, p_id text, p_kind text,
    p_skill_id text, p_run_id text, p_step integer, p_trigger text, p_occurred_at timestamptz, p_key_id text,
    p_signature text, p_canonical bytea)
  RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_ws text := app.current_workspace();
  v_head public.audit_chain_heads%ROWTYPE;
BEGIN
  SELECT * INTO v_head FROM public.audit_chain_heads h WHERE h.workspace_id = v_ws FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'lock the chain head first' USING ERRCODE = 'PXV01';
  END IF;
  IF p_seq <> v_head.seq + 1 OR p_prev_hash <> v_head.head_hash THEN
    RAISE EXCEPTION 'the event does not continue the chain head' USING ERRCODE = 'PXV01';
  END IF;
  IF p_hash <> encode(sha256(decode(p_prev_hash, 'hex') || p_canonical), 'hex') THEN
    RAISE EXCEPTION 'the hash does not match the canonical bytes' USING ERRCODE = 'PXV01';
  END IF;
  INSERT INTO public.audit_events (workspace_id, seq, id, kind, skill_id, run_id, step, trigger, occurred_at, prev_hash,
                                   hash, key_id, signature, canonical)
  VALUES (v_ws, p_seq, p_id, p_kind, p_skill_id, p_run_id, p_step, p_trigger, p_occurred_at, p_prev_hash, p_hash,
          p_key_id, p_signature, p_canonical);
  UPDATE public.audit_chain_heads SET seq = p_seq, head_hash = p_hash, updated_at = clock_timestamp() WHERE workspace_id = v_ws;
END $$;

ALTER FUNCTION public.audit_lock_head(text) OWNER TO praxa_definer;
ALTER FUNCTION public.audit_append_event(bigint, text, text, text, text, text, text, integer, text, timestamptz, text, text, bytea) OWNER TO praxa_definer;
REVOKE ALL ON FUNCTION public.audit_lock_head(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.audit_append_event(bigint, text, text, text, text, text, text, integer, text, timestamptz, text, text, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.audit_lock_head(text) TO praxa_worker, praxa_monitor, praxa_api;
GRANT EXECUTE ON FUNCTION public.audit_append_event(bigint, text, text, text, text, text, text, integer, text, timestamptz, text, text, bytea) TO praxa_worker, praxa_monitor, praxa_api;
