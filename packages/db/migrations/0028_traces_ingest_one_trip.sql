-- Traces end to end and ingest in one round trip (issue #20, items 3 and 5).
--
-- 1. agent_runs.traceparent: the W3C trace context of the ingest request that created the run (never in the job). The
--    worker continues the trace from it when it claims the run, so one trace runs from the webhook's arrival to the
--    review posted. Only the W3C `traceparent` shape is stored: a version, a trace id, a span id and flags — ids, no
--    content. NULL when ingest exports no traces.
-- 2. ingest_create_runs takes the traceparent (its 0027 body otherwise unchanged: fair dispatch on the spot).
-- 3. ingest_accept_delivery: what a webhook needs from the database in one call (resolve the installation, refuse our
--    own bot, find the subscribed Skills, record the delivery and create its runs through ingest_create_runs), so
--    ingest can place many concurrent requests' calls in one statement and one commit.

ALTER TABLE agent_runs
  ADD COLUMN traceparent text CHECK (traceparent ~ '^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$');

DROP FUNCTION public.ingest_create_runs(text, text, text, text, text, jsonb, jsonb, timestamptz, text);
-- ingest: as in 0027 (copied exactly), and each new run records the ingest request's trace context.
CREATE FUNCTION public.ingest_create_runs(
    p_source text, p_delivery_id text, p_body_sha256 text, p_workspace_id text, p_trigger text,
    p_input jsonb, p_runs jsonb, p_not_before timestamptz DEFAULT NULL, p_integration_id text DEFAULT NULL,
    p_traceparent text DEFAULT NULL)
  -- dispatch_seqs: per run, the dispatch whose job ingest adds now (≥ 1), or 0: none (the dispatcher's).
  RETURNS TABLE (run_ids text[], statuses text[], duplicate boolean, dispatch_seqs integer[])
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_inserted integer;
  v_ids text[] := '{}';
  v_statuses text[] := '{}';
  v_seqs integer[] := '{}';
  v_run jsonb;
  v_skill record;
  v_prior record;
  v_free integer;
  v_room integer;
  v_idle boolean := false;
  v_dispatch boolean;
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
      RETURN QUERY SELECT '{}'::text[], '{}'::text[], true, '{}'::integer[];
      RETURN;
    END IF;
    -- A dispatched run's job is added again (same id: a no-op if it exists); an undispatched one (0) is the
    -- dispatcher's, and so is a run queued before 0027 (sequence 0 too: the reconciler owns its job).
    RETURN QUERY
      SELECT ARRAY(SELECT r.id FROM unnest(v_prior.run_ids) WITH ORDINALITY u(id, n)
                     JOIN public.agent_runs r ON r.id = u.id AND r.workspace_id = p_workspace_id ORDER BY u.n),
             ARRAY(SELECT r.status FROM unnest(v_prior.run_ids) WITH ORDINALITY u(id, n)
                     JOIN public.agent_runs r ON r.id = u.id AND r.workspace_id = p_workspace_id ORDER BY u.n),
             true,
             ARRAY(SELECT CASE WHEN r.dispatched_at IS NULL THEN 0 ELSE r.dispatch_seq END
                     FROM unnest(v_prior.run_ids) WITH ORDINALITY u(id, n)
                     JOIN public.agent_runs r ON r.id = u.id AND r.workspace_id = p_workspace_id ORDER BY u.n);
    RETURN;
  END IF;

  IF jsonb_array_length(p_runs) > 0 AND (p_not_before IS NULL OR p_not_before <= clock_timestamp()) THEN
    v_free := app.workspace_cap(p_workspace_id) -
              (SELECT count(*) FROM public.agent_runs x
                WHERE x.workspace_id = p_workspace_id
                  AND (x.status = 'running' OR (x.status = 'queued' AND x.dispatched_at IS NOT NULL)))::integer;
    -- A workspace with nothing in flight is the one fair share serves first: its first run goes on the spot even when
    -- the look-ahead is full (at most one run over it per idle workspace), instead of waiting for the next pass.
    v_idle := v_free = app.workspace_cap(p_workspace_id);
    SELECT s.dispatch_ahead - (SELECT count(*) FROM public.agent_runs r WHERE r.status = 'queued' AND r.dispatched_at IS NOT NULL)::integer
      INTO v_room FROM public.fleet_settings s;
    -- Undispatched runs of this workspace, or a gate on it, go first: no overtaking them.
    IF EXISTS (SELECT 1 FROM public.agent_runs r
                WHERE r.workspace_id = p_workspace_id AND r.status = 'queued' AND r.dispatched_at IS NULL)
       OR app.run_gate_until(p_workspace_id, p_integration_id) IS NOT NULL THEN
      v_free := 0;
    END IF;
  ELSE
    v_free := 0;
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
    v_dispatch := v_skill.status <> 'paused' AND v_free > 0 AND (v_room > 0 OR v_idle);
    INSERT INTO public.agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source, source_delivery_id,
                                   input, status, skip_reason, not_before, integration_id, dispatched_at, dispatch_seq,
                                   traceparent)
    VALUES (p_workspace_id, v_run ->> 'run_id', v_skill.skill_id, v_skill.version_id, p_trigger, p_source,
            p_delivery_id, COALESCE(p_input, '{}'::jsonb),
            CASE WHEN v_skill.status = 'paused' THEN 'skipped' ELSE 'queued' END,
            CASE WHEN v_skill.status = 'paused' THEN 'skill_paused' END,
            p_not_before, p_integration_id,
            CASE WHEN v_dispatch THEN clock_timestamp() END,
            CASE WHEN v_dispatch THEN 1 ELSE 0 END,
            p_traceparent);
    IF v_dispatch THEN
      v_free := v_free - 1;
      v_room := v_room - 1;
      v_idle := false;
    END IF;
    v_ids := v_ids || (v_run ->> 'run_id');
    v_statuses := v_statuses || CASE WHEN v_skill.status = 'paused' THEN 'skipped' ELSE 'queued' END;
    v_seqs := v_seqs || CASE WHEN v_dispatch THEN 1 ELSE 0 END;
  END LOOP;
  UPDATE public.webhook_deliveries SET run_ids = v_ids WHERE source = p_source AND delivery_id = p_delivery_id;
  RETURN QUERY SELECT v_ids, v_statuses, false, v_seqs;
END $$;

-- ingest: one verified delivery, start to end, in one call.
--   github / slack: p_external_id (installation id, team id) → its active installation's workspace; an event whose
--     actor is the installation's own bot (login or user id) is ignored as `own_app`; no Skill subscribed to the trigger
--     → `no_subscribed_skill`; an unknown or inactive installation → `unknown_installation` (recorded without a
--     workspace). The workspace is never an argument here.
--   trigger (signed producers): p_workspace_id and p_skill_id come from the verified signature (the Skill's own
--     secret); the run is created only if that Skill subscribes to the trigger.
--   p_ignored: the caller already knows the delivery starts nothing (malformed, unsupported, our own App): it is
--     recorded as ignored, for replay protection, without a workspace.
-- p_run_ids are fresh run ids, used in order (one per subscribed Skill, Skills in id order). With fewer ids than Skills
-- nothing is written and the answer is `need_ids` with the count needed: the caller asks again with enough.
-- Every outcome records the delivery through ingest_create_runs, so duplicates answer as before: `duplicate` with the
-- original runs of the same workspace only.
CREATE FUNCTION public.ingest_accept_delivery(
    p_source text, p_delivery_id text, p_body_sha256 text, p_trigger text, p_input jsonb,
    p_external_id text, p_actor_login text, p_workspace_id text, p_skill_id text, p_ignored text,
    p_run_ids text[], p_traceparent text DEFAULT NULL)
  RETURNS TABLE (outcome text, workspace_id text, run_ids text[], statuses text[], duplicate boolean,
                 dispatch_seqs integer[], needed integer)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_ws text;
  v_integration text;
  v_status text;
  v_bot jsonb;
  v_reason text;
  v_skills text[];
  v_runs jsonb := '[]'::jsonb;
BEGIN
  IF p_ignored IS NOT NULL THEN
    IF p_ignored !~ '^[a-z_]{1,40}$' THEN
      RAISE EXCEPTION 'p_ignored must be a reason code' USING ERRCODE = 'PXV01';
    END IF;
    v_reason := p_ignored;
  ELSIF p_source IN ('github', 'slack') THEN
    IF p_external_id IS NULL OR p_workspace_id IS NOT NULL OR p_skill_id IS NOT NULL THEN
      RAISE EXCEPTION 'a webhook names its installation, never a workspace or a Skill' USING ERRCODE = 'PXV01';
    END IF;
    SELECT i.workspace_id, i.id, i.status, i.bot_identity INTO v_ws, v_integration, v_status, v_bot
      FROM public.integrations i
     WHERE i.provider = p_source AND i.external_id = p_external_id AND i.status <> 'pending_confirmation'
     LIMIT 1;
    IF NOT FOUND OR v_status <> 'active' THEN
      v_ws := NULL;
      v_reason := 'unknown_installation';
    ELSIF p_actor_login IS NOT NULL
          AND ((jsonb_typeof(v_bot -> 'login') = 'string' AND v_bot ->> 'login' = p_actor_login)
               OR (jsonb_typeof(v_bot -> 'user_id') = 'string' AND v_bot ->> 'user_id' = p_actor_login)) THEN
      v_reason := 'own_app';
    END IF;
  ELSIF p_source = 'trigger' THEN
    IF p_workspace_id IS NULL OR p_skill_id IS NULL OR p_external_id IS NOT NULL THEN
      RAISE EXCEPTION 'a signed trigger names its workspace and Skill' USING ERRCODE = 'PXV01';
    END IF;
    v_ws := p_workspace_id;
  ELSE
    RAISE EXCEPTION 'unknown source' USING ERRCODE = 'PXV01';
  END IF;

  IF v_reason IS NULL THEN
    -- As ingest_subscribed_skills: Skills of the workspace whose any version subscribes; ingest_create_runs pins each
    -- run to the newest subscribing version and re-checks the Skill's status.
    SELECT COALESCE(array_agg(x.id ORDER BY x.id), '{}'::text[]) INTO v_skills
      FROM (SELECT DISTINCT s.id
              FROM public.skills s
              JOIN public.skill_versions v ON v.workspace_id = s.workspace_id AND v.skill_id = s.id
             WHERE s.workspace_id = v_ws AND v.manifest -> 'triggers' ? p_trigger
               AND (p_skill_id IS NULL OR s.id = p_skill_id)) x;
    IF cardinality(v_skills) = 0 THEN
      -- A signed producer's delivery to an unsubscribed Skill is recorded under its trigger, as before.
      IF p_source <> 'trigger' THEN v_reason := 'no_subscribed_skill'; END IF;
    ELSIF cardinality(v_skills) > COALESCE(cardinality(p_run_ids), 0) THEN
      RETURN QUERY SELECT 'need_ids'::text, v_ws, '{}'::text[], '{}'::text[], false, '{}'::integer[],
                          cardinality(v_skills);
      RETURN;
    ELSE
      SELECT jsonb_agg(jsonb_build_object('run_id', p_run_ids[u.n], 'skill_id', u.id) ORDER BY u.n) INTO v_runs
        FROM unnest(v_skills) WITH ORDINALITY u(id, n);
    END IF;
  END IF;

  RETURN QUERY
    SELECT CASE WHEN v_reason IS NULL AND cardinality(v_skills) = 0 THEN 'no_subscribed_skill'
                ELSE COALESCE(v_reason, 'accepted') END,
           v_ws, c.run_ids, c.statuses, c.duplicate, c.dispatch_seqs, 0
      FROM public.ingest_create_runs(
             p_source, p_delivery_id, p_body_sha256, v_ws,
             CASE WHEN v_reason IS NULL THEN p_trigger ELSE 'ignored.event' END,
             CASE WHEN v_reason IS NULL THEN COALESCE(p_input, '{}'::jsonb) ELSE '{}'::jsonb END,
             v_runs, NULL,
             CASE WHEN v_reason IS NULL AND p_source <> 'trigger' THEN v_integration END,
             CASE WHEN v_reason IS NULL THEN p_traceparent END) c;
END $$;

ALTER FUNCTION public.ingest_create_runs(text, text, text, text, text, jsonb, jsonb, timestamptz, text, text) OWNER TO praxa_definer;
REVOKE ALL ON FUNCTION public.ingest_create_runs(text, text, text, text, text, jsonb, jsonb, timestamptz, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.ingest_create_runs(text, text, text, text, text, jsonb, jsonb, timestamptz, text, text) TO praxa_ingest;

ALTER FUNCTION public.ingest_accept_delivery(text, text, text, text, jsonb, text, text, text, text, text, text[], text) OWNER TO praxa_definer;
REVOKE ALL ON FUNCTION public.ingest_accept_delivery(text, text, text, text, jsonb, text, text, text, text, text, text[], text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.ingest_accept_delivery(text, text, text, text, jsonb, text, text, text, text, text, text[], text) TO praxa_ingest;
