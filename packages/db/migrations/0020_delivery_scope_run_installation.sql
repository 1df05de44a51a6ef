-- Issue 16 (outside security review), findings 2 and 9.
--
-- Finding 2 — deduplication must never cross tenants. webhook_deliveries was unique on (source, body_sha256) for every
-- source, so the same body posted by workspace B's producer to B's Skill (correct signature, fresh webhook-id) was
-- answered with workspace A's run id and B got no run.
--   * Signed producers (`trigger`): a delivery is the Skill's `webhook-id` (delivery_id = `<skill id>:<webhook-id>`,
--     as the Standard Webhooks spec uses the id: per endpoint). No body-digest dedup: the signature covers the id and
--     the timestamp, so a replay under a fresh id cannot be forged, and a producer sending the same body under two
--     ids asked twice.
--   * GitHub and Slack keep body-digest dedup: GitHub's signature covers the body only (X-GitHub-Delivery is not
--     signed), so the digest is what stops a captured body being replayed under a fresh delivery id; every GitHub and
--     Slack body names its installation / team, which belongs to one workspace.
--   * Whatever matched, a duplicate is answered only with the caller's workspace's runs: a stored delivery of another
--     workspace (or of none) answers `duplicate` with no run ids.
--
-- Finding 9 — a run records the installation it came through. agent_runs.integration_id is the integration ingest
-- resolved from the verified webhook (GitHub installation id / Slack team id), with a composite FK so it can only
-- name an integration of the run's own workspace; the worker mints GitHub tokens for that installation only. A
-- sub-agent's child run inherits its parent's.

-- ── finding 2 ──────────────────────────────────────────────────────────────────────────────────────────────────────
CREATE UNIQUE INDEX webhook_deliveries_signed_body_idx ON webhook_deliveries (source, body_sha256) WHERE source <> 'trigger';
DROP INDEX webhook_deliveries_body_idx;

-- ── finding 9 ──────────────────────────────────────────────────────────────────────────────────────────────────────
ALTER TABLE agent_runs ADD COLUMN integration_id text;
-- ON DELETE SET NULL (integration_id) — PG 15: only the integration column is cleared, never workspace_id.
ALTER TABLE agent_runs ADD CONSTRAINT agent_runs_integration_fk
  FOREIGN KEY (workspace_id, integration_id) REFERENCES integrations (workspace_id, id) ON DELETE SET NULL (integration_id);
CREATE INDEX agent_runs_integration_idx ON agent_runs (workspace_id, integration_id) WHERE integration_id IS NOT NULL;

CREATE FUNCTION app.agent_runs_inherit_integration() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NEW.integration_id IS NULL AND NEW.parent_run_id IS NOT NULL THEN
    SELECT r.integration_id INTO NEW.integration_id
      FROM public.agent_runs r WHERE r.workspace_id = NEW.workspace_id AND r.id = NEW.parent_run_id;
  END IF;
  RETURN NEW;
END $$;
ALTER FUNCTION app.agent_runs_inherit_integration() OWNER TO praxa_owner;
REVOKE ALL ON FUNCTION app.agent_runs_inherit_integration() FROM PUBLIC;
CREATE TRIGGER agent_runs_inherit_integration BEFORE INSERT ON agent_runs
  FOR EACH ROW EXECUTE FUNCTION app.agent_runs_inherit_integration();

-- ingest: record a delivery and create its runs, atomically (replaces 0003's). p_integration_id: the integration the
-- verified webhook resolved to (NULL for signed producers); it must be one of p_workspace_id's (the FK checks).
DROP FUNCTION public.ingest_create_runs(text, text, text, text, text, jsonb, jsonb, timestamptz);
CREATE FUNCTION public.ingest_create_runs(
    p_source text, p_delivery_id text, p_body_sha256 text, p_workspace_id text, p_trigger text,
    p_input jsonb, p_runs jsonb, p_not_before timestamptz DEFAULT NULL, p_integration_id text DEFAULT NULL)
  RETURNS TABLE (run_ids text[], statuses text[], duplicate boolean)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_inserted integer;
  v_ids text[] := '{}';
  v_statuses text[] := '{}';
  v_run jsonb;
  v_skill record;
  v_prior record;
BEGIN
  IF p_runs IS NULL OR jsonb_typeof(p_runs) <> 'array' THEN
    RAISE EXCEPTION 'p_runs must be a JSON array' USING ERRCODE = 'PXV01';
  END IF;
  IF p_integration_id IS NOT NULL AND p_workspace_id IS NULL THEN
    RAISE EXCEPTION 'an integration needs its workspace' USING ERRCODE = 'PXV01';
  END IF;
  INSERT INTO public.webhook_deliveries (source, delivery_id, body_sha256, workspace_id, outcome)
  VALUES (p_source, p_delivery_id, p_body_sha256, p_workspace_id,
          CASE WHEN jsonb_array_length(p_runs) = 0 THEN 'ignored' ELSE 'accepted' END)
  ON CONFLICT DO NOTHING;
  GET DIAGNOSTICS v_inserted = ROW_COUNT;
  IF v_inserted = 0 THEN
    -- Signed producers dedupe on (Skill, webhook-id) only; GitHub and Slack on delivery id or body digest.
    SELECT d.workspace_id, d.run_ids INTO v_prior
      FROM public.webhook_deliveries d
     WHERE d.source = p_source
       AND (d.delivery_id = p_delivery_id OR (p_source <> 'trigger' AND d.body_sha256 = p_body_sha256))
     ORDER BY d.received_at
     LIMIT 1;
    -- Never name another workspace's runs.
    IF NOT FOUND OR v_prior.workspace_id IS NULL OR v_prior.workspace_id IS DISTINCT FROM p_workspace_id THEN
      RETURN QUERY SELECT '{}'::text[], '{}'::text[], true;
      RETURN;
    END IF;
    RETURN QUERY
      SELECT ARRAY(SELECT r.id FROM unnest(v_prior.run_ids) WITH ORDINALITY u(id, n)
                     JOIN public.agent_runs r ON r.id = u.id AND r.workspace_id = p_workspace_id ORDER BY u.n),
             ARRAY(SELECT r.status FROM unnest(v_prior.run_ids) WITH ORDINALITY u(id, n)
                     JOIN public.agent_runs r ON r.id = u.id AND r.workspace_id = p_workspace_id ORDER BY u.n),
             true;
    RETURN;
  END IF;

  FOR v_run IN SELECT * FROM jsonb_array_elements(p_runs) LOOP
    SELECT s.id AS skill_id, s.status, v.id AS version_id INTO v_skill
      FROM public.skills s
      JOIN public.skill_versions v ON v.workspace_id = s.workspace_id AND v.skill_id = s.id
     WHERE s.workspace_id = p_workspace_id AND s.id = v_run ->> 'skill_id'
       AND v.manifest -> 'triggers' ? p_trigger
     ORDER BY v.version DESC
     LIMIT 1;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'skill is not subscribed to this trigger in this workspace' USING ERRCODE = 'PXV01';
    END IF;
    INSERT INTO public.agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source, source_delivery_id,
                                   input, status, skip_reason, not_before, integration_id)
    VALUES (p_workspace_id, v_run ->> 'run_id', v_skill.skill_id, v_skill.version_id, p_trigger, p_source,
            p_delivery_id, COALESCE(p_input, '{}'::jsonb),
            CASE WHEN v_skill.status = 'paused' THEN 'skipped' ELSE 'queued' END,
            CASE WHEN v_skill.status = 'paused' THEN 'skill_paused' END,
            p_not_before, p_integration_id);
    v_ids := v_ids || (v_run ->> 'run_id');
    v_statuses := v_statuses || CASE WHEN v_skill.status = 'paused' THEN 'skipped' ELSE 'queued' END;
  END LOOP;
  UPDATE public.webhook_deliveries SET run_ids = v_ids WHERE source = p_source AND delivery_id = p_delivery_id;
  RETURN QUERY SELECT v_ids, v_statuses, false;
END $$;
ALTER FUNCTION public.ingest_create_runs(text, text, text, text, text, jsonb, jsonb, timestamptz, text) OWNER TO praxa_definer;
REVOKE ALL ON FUNCTION public.ingest_create_runs(text, text, text, text, text, jsonb, jsonb, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.ingest_create_runs(text, text, text, text, text, jsonb, jsonb, timestamptz, text) TO praxa_ingest;
