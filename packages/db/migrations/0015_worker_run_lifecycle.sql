-- The worker's run lifecycle beyond claim/record/finish (0003):
--  * release_run: a worker that hit a retryable failure gives its run back (queued, lease cleared) so the queue's
--    retry can claim it again at once instead of waiting for the lease to expire. Recorded steps are kept: the retry
--    replays them.
--  * purge_run_step_content: step results that held model or user content are sealed to the workspace key while the
--    run lives and purged when it ends ("LLM data never stored by Praxa"); what outlives the run is the audit event.
--  * dispatch_subagent_run: a Skill's `subagent.dispatch` tool creates a child run of a Skill of the same workspace
--    (never another's), idempotent per (parent run, step), with the depth bounded in the database as well as in code.

CREATE FUNCTION public.release_run(p_run_id text, p_token uuid) RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM app.check_run_lease(p_run_id, p_token);
  UPDATE public.agent_runs
     SET status = 'queued', lease_token = NULL, lease_holder = NULL, lease_expires_at = NULL,
         updated_at = clock_timestamp()
   WHERE id = p_run_id;
END $$;

CREATE FUNCTION public.purge_run_step_content(p_run_id text, p_token uuid) RETURNS integer
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE v_ws text := app.check_run_lease(p_run_id, p_token);
        v_n integer;
BEGIN
  UPDATE public.run_steps s SET result_sealed = NULL
   WHERE s.workspace_id = v_ws AND s.run_id = p_run_id AND s.result_sealed IS NOT NULL;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n;
END $$;

CREATE FUNCTION public.dispatch_subagent_run(p_parent_run_id text, p_token uuid, p_child_run_id text,
                                             p_target_slug text, p_step integer, p_input jsonb, p_max_depth integer)
  RETURNS TABLE (run_id text, created boolean)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_ws text := app.check_run_lease(p_parent_run_id, p_token);
  v_key text := 'subagent:' || p_parent_run_id || ':' || p_step::text;
  v_existing text;
  v_skill text;
  v_version text;
  v_depth integer := 0;
  v_cursor text := p_parent_run_id;
BEGIN
  SELECT r.id INTO v_existing FROM public.agent_runs r
   WHERE r.workspace_id = v_ws AND r.parent_run_id = p_parent_run_id AND r.source_delivery_id = v_key;
  IF FOUND THEN
    RETURN QUERY SELECT v_existing, false;
    RETURN;
  END IF;
  -- depth of the parent: walk up its ancestors (bounded).
  LOOP
    SELECT r.parent_run_id INTO v_cursor FROM public.agent_runs r WHERE r.id = v_cursor AND r.workspace_id = v_ws;
    EXIT WHEN v_cursor IS NULL;
    v_depth := v_depth + 1;
    IF v_depth > 5 THEN EXIT; END IF;
  END LOOP;
  IF p_max_depth IS NULL OR v_depth + 1 > LEAST(p_max_depth, 5) THEN
    RAISE EXCEPTION 'sub-agent depth limit reached' USING ERRCODE = 'PXV01';
  END IF;
  SELECT s.id INTO v_skill FROM public.skills s WHERE s.workspace_id = v_ws AND s.slug = p_target_slug;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such skill in this workspace' USING ERRCODE = 'PXN01';
  END IF;
  SELECT v.id INTO v_version FROM public.skill_versions v
   WHERE v.workspace_id = v_ws AND v.skill_id = v_skill ORDER BY v.version DESC LIMIT 1;
  INSERT INTO public.agent_runs (workspace_id, id, skill_id, skill_version_id, parent_run_id, trigger, source,
                                 source_delivery_id, input)
  VALUES (v_ws, p_child_run_id, v_skill, v_version, p_parent_run_id, 'subagent.dispatch', 'subagent', v_key,
          COALESCE(p_input, '{}'::jsonb));
  RETURN QUERY SELECT p_child_run_id, true;
END $$;

ALTER FUNCTION public.release_run(text, uuid) OWNER TO praxa_definer;
ALTER FUNCTION public.purge_run_step_content(text, uuid) OWNER TO praxa_definer;
ALTER FUNCTION public.dispatch_subagent_run(text, uuid, text, text, integer, jsonb, integer) OWNER TO praxa_definer;
REVOKE ALL ON FUNCTION public.release_run(text, uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.purge_run_step_content(text, uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.dispatch_subagent_run(text, uuid, text, text, integer, jsonb, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.release_run(text, uuid) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.purge_run_step_content(text, uuid) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.dispatch_subagent_run(text, uuid, text, text, integer, jsonb, integer) TO praxa_worker;
