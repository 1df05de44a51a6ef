-- Declarative Skills (issue 21): a workspace's own Skills, fed by their signed producers.
--  * run_payloads: a producer's payload as the run's Skill version may see it — projected by ingest to the fields its
--    input schema names (everything else is dropped before anything is stored) and sealed to the workspace key (HPKE,
--    the AAD naming the run). User content, like step content: no login role reads or writes the table; ingest stores
--    it through ingest_accept_delivery, the worker holding the run's lease reads it (read_run_payload), and it is
--    deleted the moment the run ends, however it ends (a trigger on agent_runs.status) — or with the run.
--  * ingest_trigger_target: what ingest needs, after the signature holds, to project and seal a producer's payload:
--    the Skill's newest version (its triggers and input schema) and its workspace's public key.
--  * ingest_accept_delivery takes the version ingest projected for and the sealed payload (the 12-argument form is
--    replaced): one call still resolves, records, creates and stores.
--  * api_publish_skill_version: a workspace admin publishes a declarative Skill version (a new Skill, or a new
--    immutable version of one); the database re-checks the admin's token, numbers the version, refuses to publish
--    over a built-in Skill, refuses tools of an integration the workspace has not installed, and answers the newest
--    version unchanged when its manifest hash is the same (re-applying a file creates nothing).
SET LOCAL ROLE praxa_owner;

CREATE TABLE run_payloads (
  workspace_id    text NOT NULL,
  run_id          text NOT NULL PRIMARY KEY,
  payload_sealed  bytea NOT NULL CHECK (octet_length(payload_sealed) BETWEEN 1 AND 1048576),
  created_at      timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (workspace_id, run_id) REFERENCES agent_runs (workspace_id, id) ON DELETE CASCADE
);
SELECT app.enable_platform_rls('run_payloads');
GRANT SELECT, INSERT, DELETE ON run_payloads TO praxa_definer;
GRANT UPDATE (name, updated_at) ON skills TO praxa_definer;

RESET ROLE;

CREATE FUNCTION public.read_run_payload(p_run_id text, p_token uuid) RETURNS bytea
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_ws text := app.check_run_lease(p_run_id, p_token);
  v_sealed bytea;
BEGIN
  SELECT p.payload_sealed INTO v_sealed FROM public.run_payloads p WHERE p.workspace_id = v_ws AND p.run_id = p_run_id;
  RETURN v_sealed;
END $$;

-- When a run ends — finished by its worker, cancelled, denied, or ended by any other path — its payload goes.
CREATE FUNCTION app.purge_run_payload_at_run_end() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  DELETE FROM public.run_payloads p WHERE p.workspace_id = NEW.workspace_id AND p.run_id = NEW.id;
  RETURN NULL;
END $$;
CREATE TRIGGER agent_runs_purge_run_payload AFTER UPDATE OF status ON agent_runs
  FOR EACH ROW WHEN (NEW.status NOT IN ('queued', 'running', 'waiting_approval') AND OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION app.purge_run_payload_at_run_end();

CREATE FUNCTION public.ingest_trigger_target(p_skill_id text)
  RETURNS TABLE (workspace_id text, skill_version_id text, triggers jsonb, input_schema jsonb, key_id text,
                 public_key bytea)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT v.workspace_id, v.id, v.manifest -> 'triggers', v.manifest #> '{declarative,input}', k.key_id, k.public_key
    FROM public.skill_versions v
    LEFT JOIN public.workspace_keys k ON k.workspace_id = v.workspace_id AND k.status = 'active'
   WHERE v.skill_id = p_skill_id
   ORDER BY v.version DESC
   LIMIT 1
$$;

DROP FUNCTION public.ingest_accept_delivery(text, text, text, text, jsonb, text, text, text, text, text, text[], text);

CREATE FUNCTION public.ingest_accept_delivery(
    p_source text, p_delivery_id text, p_body_sha256 text, p_trigger text, p_input jsonb,
    p_external_id text, p_actor_login text, p_workspace_id text, p_skill_id text, p_ignored text,
    p_run_ids text[], p_traceparent text DEFAULT NULL, p_skill_version_id text DEFAULT NULL,
    p_payload_sealed bytea DEFAULT NULL)
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
  v_created record;
  v_version text;
BEGIN
  IF p_payload_sealed IS NOT NULL AND (p_source <> 'trigger' OR p_skill_version_id IS NULL
                                       OR cardinality(p_run_ids) <> 1) THEN
    RAISE EXCEPTION 'a sealed payload belongs to one signed producer''s run of a named Skill version'
      USING ERRCODE = 'PXV01';
  END IF;
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

  SELECT c.run_ids, c.statuses, c.duplicate, c.dispatch_seqs INTO v_created
    FROM public.ingest_create_runs(
           p_source, p_delivery_id, p_body_sha256, v_ws,
           CASE WHEN v_reason IS NULL THEN p_trigger ELSE 'ignored.event' END,
           CASE WHEN v_reason IS NULL THEN COALESCE(p_input, '{}'::jsonb) ELSE '{}'::jsonb END,
           v_runs, NULL,
           CASE WHEN v_reason IS NULL AND p_source <> 'trigger' THEN v_integration END,
           CASE WHEN v_reason IS NULL THEN p_traceparent END) c;
  -- A signed producer's payload, projected by ingest to the fields the Skill version declares and sealed to the
  -- workspace key (the AAD names the run): stored with the run it was read for. Ingest read that version's input
  -- schema a moment ago; if a newer version was published since, the run is pinned to it and the projection may not
  -- match its declaration — refuse (nothing is stored) and let the producer send it again.
  IF p_payload_sealed IS NOT NULL AND v_reason IS NULL AND NOT v_created.duplicate
     AND cardinality(v_created.run_ids) = 1 THEN
    SELECT r.skill_version_id INTO v_version FROM public.agent_runs r
     WHERE r.workspace_id = v_ws AND r.id = v_created.run_ids[1];
    IF v_version IS DISTINCT FROM p_skill_version_id THEN
      RAISE EXCEPTION 'the Skill was changed while its event was read; send it again' USING ERRCODE = '40001';
    END IF;
    INSERT INTO public.run_payloads (workspace_id, run_id, payload_sealed)
    VALUES (v_ws, v_created.run_ids[1], p_payload_sealed);
  END IF;

  RETURN QUERY
    SELECT CASE WHEN v_reason IS NULL AND cardinality(v_skills) = 0 THEN 'no_subscribed_skill'
                ELSE COALESCE(v_reason, 'accepted') END,
           v_ws, v_created.run_ids, v_created.statuses, v_created.duplicate, v_created.dispatch_seqs, 0;
END $$;

CREATE FUNCTION public.api_publish_skill_version(p_skill_id text, p_slug text, p_name text, p_version_id text,
                                                 p_manifest jsonb, p_manifest_hash text, p_token_id text,
                                                 p_secret_sha256 text)
  RETURNS TABLE (skill_id text, version_id text, version integer, created boolean, member_id text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  v_ws text := app.current_workspace();
  v_member text := app.check_admin_token(p_token_id, p_secret_sha256, false);
  v_skill text;
  v_slug text;
  v_last record;
  v_next integer;
  v_tool text;
BEGIN
  IF p_manifest IS NULL OR jsonb_typeof(p_manifest -> 'declarative') IS DISTINCT FROM 'object'
     OR p_manifest ->> 'slug' IS DISTINCT FROM p_slug OR p_manifest ->> 'name' IS DISTINCT FROM p_name
     OR p_manifest_hash !~ '^[0-9a-f]{64}$' THEN
    RAISE EXCEPTION 'a declarative manifest, its slug, name and hash' USING ERRCODE = 'PXV01';
  END IF;
  -- Tools act through the workspace's own installations only.
  FOR v_tool IN SELECT jsonb_array_elements_text(p_manifest -> 'tools') LOOP
    IF split_part(v_tool, '.', 1) IN ('github', 'slack') AND NOT EXISTS (
         SELECT 1 FROM public.integrations i
          WHERE i.workspace_id = v_ws AND i.provider = split_part(v_tool, '.', 1) AND i.status = 'active') THEN
      RAISE EXCEPTION 'tool % needs an installed % integration', v_tool, split_part(v_tool, '.', 1)
        USING ERRCODE = 'PXV01';
    END IF;
  END LOOP;
  SELECT s.id, s.slug INTO v_skill, v_slug FROM public.skills s
   WHERE s.workspace_id = v_ws AND (s.id = p_skill_id OR s.slug = p_slug)
   ORDER BY (s.id = p_skill_id) DESC LIMIT 1 FOR UPDATE;
  IF FOUND AND v_slug <> p_slug THEN
    RAISE EXCEPTION 'a Skill keeps its slug (% here)', v_slug USING ERRCODE = 'PXV01';
  END IF;
  IF NOT FOUND THEN
    v_skill := p_skill_id;
    INSERT INTO public.skills (workspace_id, id, slug, name) VALUES (v_ws, v_skill, p_slug, p_name);
  END IF;
  SELECT v.id, v.version, v.manifest_hash, v.manifest ? 'declarative' AS declarative INTO v_last
    FROM public.skill_versions v WHERE v.workspace_id = v_ws AND v.skill_id = v_skill
   ORDER BY v.version DESC LIMIT 1;
  IF FOUND AND NOT v_last.declarative THEN
    RAISE EXCEPTION 'a built-in Skill is published by its operators, not through the api' USING ERRCODE = 'PXV01';
  END IF;
  IF FOUND AND v_last.manifest_hash = p_manifest_hash THEN
    RETURN QUERY SELECT v_skill, v_last.id, v_last.version, false, v_member;
    RETURN;
  END IF;
  v_next := COALESCE(v_last.version, 0) + 1;
  INSERT INTO public.skill_versions (workspace_id, id, skill_id, version, manifest, manifest_hash)
  VALUES (v_ws, p_version_id, v_skill, v_next, p_manifest, p_manifest_hash);
  UPDATE public.skills s SET name = p_name, updated_at = clock_timestamp()
   WHERE s.workspace_id = v_ws AND s.id = v_skill AND s.name <> p_name;
  RETURN QUERY SELECT v_skill, p_version_id, v_next, true, v_member;
END $$;

ALTER FUNCTION public.read_run_payload(text, uuid) OWNER TO praxa_definer;
ALTER FUNCTION app.purge_run_payload_at_run_end() OWNER TO praxa_definer;
ALTER FUNCTION public.ingest_trigger_target(text) OWNER TO praxa_definer;
ALTER FUNCTION public.ingest_accept_delivery(text, text, text, text, jsonb, text, text, text, text, text, text[], text, text, bytea) OWNER TO praxa_definer;
ALTER FUNCTION public.api_publish_skill_version(text, text, text, text, jsonb, text, text, text) OWNER TO praxa_definer;
REVOKE ALL ON FUNCTION public.read_run_payload(text, uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION app.purge_run_payload_at_run_end() FROM PUBLIC;
REVOKE ALL ON FUNCTION public.ingest_trigger_target(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.ingest_accept_delivery(text, text, text, text, jsonb, text, text, text, text, text, text[], text, text, bytea) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.api_publish_skill_version(text, text, text, text, jsonb, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.read_run_payload(text, uuid) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.ingest_trigger_target(text) TO praxa_ingest;
GRANT EXECUTE ON FUNCTION public.ingest_accept_delivery(text, text, text, text, jsonb, text, text, text, text, text, text[], text, text, bytea) TO praxa_ingest;
GRANT EXECUTE ON FUNCTION public.api_publish_skill_version(text, text, text, text, jsonb, text, text, text) TO praxa_api;
