-- Sub-agent inputs (security review, finding 6): a model's words for a child run are never stored in plain text, and
-- the model never chooses the child's subject.
--  * dispatch_subagent_run (0015's 7-argument form dropped): the child's input is its PARENT's input as the parent's
--    row holds it (the subject ingest recorded: repository, PR, Slack team, channel, thread…) with the parent's own
--    `subagent` key replaced by `{"subagent": args}` — the structured arguments the worker validated against the
--    child Skill's declared schema. `args` must be a flat object of numbers, booleans and short tokens (no prose), so
--    even a compromised worker cannot put free text or a subject of its choosing on the child's plaintext row.
--  * subagent_tasks: the model-written task for the child, sealed by the worker to the workspace key (HPKE, as step
--    content; the AAD names the child run). No login role reads or writes it: the dispatch inserts it, the child's
--    worker reads it under the child's lease (read_subagent_task), and it is deleted the moment the child's run ends,
--    however it ends (a trigger on agent_runs.status) — or with the run (ON DELETE CASCADE).
SET LOCAL ROLE praxa_owner;

CREATE TABLE subagent_tasks (
  workspace_id  text NOT NULL,
  run_id        text NOT NULL PRIMARY KEY,
  task_sealed   bytea NOT NULL CHECK (octet_length(task_sealed) BETWEEN 1 AND 65536),
  created_at    timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (workspace_id, run_id) REFERENCES agent_runs (workspace_id, id) ON DELETE CASCADE
);
-- Only definer functions reach it (a policy for praxa_definer alone, no grant to any login role).
SELECT app.enable_platform_rls('subagent_tasks');
GRANT SELECT, INSERT, DELETE ON subagent_tasks TO praxa_definer;

RESET ROLE;

DROP FUNCTION public.dispatch_subagent_run(text, uuid, text, text, integer, jsonb, integer);

CREATE FUNCTION public.dispatch_subagent_run(p_parent_run_id text, p_token uuid, p_child_run_id text,
                                             p_target_slug text, p_step integer, p_args jsonb, p_task_sealed bytea,
                                             p_max_depth integer)
  RETURNS TABLE (run_id text, created boolean)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_ws text := app.check_run_lease(p_parent_run_id, p_token);
  v_key text := 'subagent:' || p_parent_run_id || ':' || p_step::text;
  v_existing text;
  v_parent_input jsonb;
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
  -- Structured arguments only: a flat object (≤ 16 keys) of numbers, booleans and tokens — never prose, never nested.
  IF p_args IS NULL OR jsonb_typeof(p_args) <> 'object'
     OR (SELECT count(*) FROM jsonb_object_keys(p_args)) > 16
     OR EXISTS (SELECT 1 FROM jsonb_each(p_args) e
                 WHERE e.key !~ '^[a-z][A-Za-z0-9_]{0,63}$'
                    OR NOT (jsonb_typeof(e.value) IN ('number', 'boolean')
                            OR (jsonb_typeof(e.value) = 'string' AND (e.value #>> '{}') ~ '^[A-Za-z0-9_.:-]{1,64}$'))) THEN
    RAISE EXCEPTION 'sub-agent arguments must be a flat object of numbers, booleans and tokens' USING ERRCODE = 'PXV01';
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
  -- The subject is the parent's, from the parent's row: nothing the caller passes can name another.
  SELECT r.input INTO v_parent_input FROM public.agent_runs r WHERE r.workspace_id = v_ws AND r.id = p_parent_run_id;
  INSERT INTO public.agent_runs (workspace_id, id, skill_id, skill_version_id, parent_run_id, trigger, source,
                                 source_delivery_id, input)
  VALUES (v_ws, p_child_run_id, v_skill, v_version, p_parent_run_id, 'subagent.dispatch', 'subagent', v_key,
          (v_parent_input - 'subagent') || jsonb_build_object('subagent', p_args));
  IF p_task_sealed IS NOT NULL THEN
    INSERT INTO public.subagent_tasks (workspace_id, run_id, task_sealed) VALUES (v_ws, p_child_run_id, p_task_sealed);
  END IF;
  RETURN QUERY SELECT p_child_run_id, true;
END $$;

-- The child's sealed task, for the worker holding the child's lease (NULL when the parent gave none).
CREATE FUNCTION public.read_subagent_task(p_run_id text, p_token uuid) RETURNS bytea
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_ws text := app.check_run_lease(p_run_id, p_token);
  v_sealed bytea;
BEGIN
  SELECT t.task_sealed INTO v_sealed FROM public.subagent_tasks t WHERE t.workspace_id = v_ws AND t.run_id = p_run_id;
  RETURN v_sealed;
END $$;

-- When a run ends — finished by its worker, cancelled, or ended by any other path — its task goes.
CREATE FUNCTION app.purge_subagent_task_at_run_end() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  DELETE FROM public.subagent_tasks t WHERE t.workspace_id = NEW.workspace_id AND t.run_id = NEW.id;
  RETURN NULL;
END $$;

ALTER FUNCTION public.dispatch_subagent_run(text, uuid, text, text, integer, jsonb, bytea, integer) OWNER TO praxa_definer;
ALTER FUNCTION public.read_subagent_task(text, uuid) OWNER TO praxa_definer;
ALTER FUNCTION app.purge_subagent_task_at_run_end() OWNER TO praxa_definer;
REVOKE ALL ON FUNCTION public.dispatch_subagent_run(text, uuid, text, text, integer, jsonb, bytea, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.read_subagent_task(text, uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION app.purge_subagent_task_at_run_end() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.dispatch_subagent_run(text, uuid, text, text, integer, jsonb, bytea, integer) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.read_subagent_task(text, uuid) TO praxa_worker;

CREATE TRIGGER agent_runs_purge_subagent_task AFTER UPDATE OF status ON agent_runs
  FOR EACH ROW WHEN (NEW.status IN ('succeeded', 'failed', 'skipped', 'cancelled') AND OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION app.purge_subagent_task_at_run_end();
