-- The deliberate tenant crossings. Each function: SECURITY DEFINER, owned by praxa_definer (NOLOGIN, no BYPASSRLS,
-- the one role with unscoped policies), SET search_path = pg_catalog, pg_temp, schema-qualified names inside,
-- EXECUTE revoked from PUBLIC and granted only to the roles that need it (docs/security.md lists them).
-- Errors use SQLSTATE class PX: PXL01 lease lost, PXS01 scope mismatch, PXN01 not found, PXV01 invalid argument.

-- ingest: an installation (GitHub installation id, Slack team id) → its workspace and bot identity.
CREATE FUNCTION public.ingest_resolve_installation(p_source text, p_external_id text)
  RETURNS TABLE (workspace_id text, integration_id text, status text, bot_identity jsonb)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT i.workspace_id, i.id, i.status, i.bot_identity
    FROM public.integrations i
   WHERE i.provider = p_source AND i.external_id = p_external_id
$$;

-- ingest: the active or paused Skills of a workspace whose pinned manifest subscribes to a trigger.
CREATE FUNCTION public.ingest_subscribed_skills(p_workspace_id text, p_trigger text)
  RETURNS TABLE (skill_id text, skill_version_id text, status text)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT DISTINCT ON (s.id) s.id, v.id, s.status
    FROM public.skills s
    JOIN public.skill_versions v ON v.workspace_id = s.workspace_id AND v.skill_id = s.id
   WHERE s.workspace_id = p_workspace_id
     AND v.manifest -> 'triggers' ? p_trigger
   ORDER BY s.id, v.version DESC
$$;

-- ingest: record a delivery (replay protection on delivery id AND body digest) and create its runs, atomically.
-- p_runs is a JSON array of {"run_id","skill_id"}; each skill is re-checked here (subscription, pinned version,
-- status at this instant: a paused Skill's run is recorded as skipped). A delivery already seen returns the
-- original run ids with duplicate = true and creates nothing.
CREATE FUNCTION public.ingest_create_runs(
    p_source text, p_delivery_id text, p_body_sha256 text, p_workspace_id text, p_trigger text,
    p_input jsonb, p_runs jsonb, p_not_before timestamptz DEFAULT NULL)
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
BEGIN
  IF p_runs IS NULL OR jsonb_typeof(p_runs) <> 'array' THEN
    RAISE EXCEPTION 'p_runs must be a JSON array' USING ERRCODE = 'PXV01';
  END IF;
  INSERT INTO public.webhook_deliveries (source, delivery_id, body_sha256, workspace_id, outcome)
  VALUES (p_source, p_delivery_id, p_body_sha256, p_workspace_id,
          CASE WHEN jsonb_array_length(p_runs) = 0 THEN 'ignored' ELSE 'accepted' END)
  ON CONFLICT DO NOTHING;
  GET DIAGNOSTICS v_inserted = ROW_COUNT;
  IF v_inserted = 0 THEN
    RETURN QUERY
      SELECT d.run_ids,
             ARRAY(SELECT r.status FROM public.agent_runs r WHERE r.id = ANY (d.run_ids) ORDER BY r.id),
             true
        FROM public.webhook_deliveries d
       WHERE d.source = p_source AND (d.delivery_id = p_delivery_id OR d.body_sha256 = p_body_sha256)
       ORDER BY d.received_at
       LIMIT 1;
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
                                   input, status, skip_reason, not_before)
    VALUES (p_workspace_id, v_run ->> 'run_id', v_skill.skill_id, v_skill.version_id, p_trigger, p_source,
            p_delivery_id, COALESCE(p_input, '{}'::jsonb),
            CASE WHEN v_skill.status = 'paused' THEN 'skipped' ELSE 'queued' END,
            CASE WHEN v_skill.status = 'paused' THEN 'skill_paused' END,
            p_not_before);
    v_ids := v_ids || (v_run ->> 'run_id');
    v_statuses := v_statuses || CASE WHEN v_skill.status = 'paused' THEN 'skipped' ELSE 'queued' END;
  END LOOP;
  UPDATE public.webhook_deliveries SET run_ids = v_ids WHERE source = p_source AND delivery_id = p_delivery_id;
  RETURN QUERY SELECT v_ids, v_statuses, false;
END $$;

-- worker: claim a run by id. The workspace, Skill version and trigger come from the row, never from the job. A
-- queued run, or a running one whose lease has expired, is taken; anything else returns no row. Each claim mints a
-- new lease token (the fencing token) that every later write presents.
CREATE FUNCTION public.claim_run(p_run_id text, p_worker_id text, p_lease_seconds integer DEFAULT 60)
  RETURNS TABLE (workspace_id text, skill_id text, skill_version_id text, trigger text, attempt integer,
                 lease_token uuid, lease_expires_at timestamptz)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_lease_seconds IS NULL OR p_lease_seconds < 5 OR p_lease_seconds > 3600 THEN
    RAISE EXCEPTION 'lease must be between 5 and 3600 seconds' USING ERRCODE = 'PXV01';
  END IF;
  RETURN QUERY
    UPDATE public.agent_runs r
       SET status = 'running',
           attempt = r.attempt + 1,
           lease_token = gen_random_uuid(),
           lease_holder = p_worker_id,
           lease_expires_at = clock_timestamp() + make_interval(secs => p_lease_seconds),
           started_at = COALESCE(r.started_at, clock_timestamp()),
           updated_at = clock_timestamp()
     WHERE r.id = p_run_id
       AND (r.status = 'queued' OR (r.status = 'running' AND r.lease_expires_at < clock_timestamp()))
    RETURNING r.workspace_id, r.skill_id, r.skill_version_id, r.trigger, r.attempt, r.lease_token, r.lease_expires_at;
END $$;

-- The fencing check, shared by every lease-bearing write: the run must be running, in the caller's workspace scope,
-- held with this token, and the lease not past now(). Locks the run row for the rest of the transaction.
CREATE FUNCTION app.check_run_lease(p_run_id text, p_token uuid) RETURNS text
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_ws text;
  v_status text;
  v_token uuid;
  v_expires timestamptz;
BEGIN
  SELECT r.workspace_id, r.status, r.lease_token, r.lease_expires_at INTO v_ws, v_status, v_token, v_expires
    FROM public.agent_runs r WHERE r.id = p_run_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'run not found' USING ERRCODE = 'PXN01';
  END IF;
  IF v_ws IS DISTINCT FROM app.current_workspace() THEN
    RAISE EXCEPTION 'run is not in the workspace of this scope' USING ERRCODE = 'PXS01';
  END IF;
  IF v_status <> 'running' OR v_token IS DISTINCT FROM p_token OR v_expires <= clock_timestamp() THEN
    RAISE EXCEPTION 'lease lost' USING ERRCODE = 'PXL01';
  END IF;
  RETURN v_ws;
END $$;

-- worker: extend a held lease.
CREATE FUNCTION public.renew_run_lease(p_run_id text, p_token uuid, p_lease_seconds integer DEFAULT 60)
  RETURNS timestamptz
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE v_expires timestamptz;
BEGIN
  PERFORM app.check_run_lease(p_run_id, p_token);
  UPDATE public.agent_runs
     SET lease_expires_at = clock_timestamp() + make_interval(secs => LEAST(GREATEST(p_lease_seconds, 5), 3600)),
         updated_at = clock_timestamp()
   WHERE id = p_run_id
  RETURNING lease_expires_at INTO v_expires;
  RETURN v_expires;
END $$;

-- worker: just before an external effect, prove the lease is still ours.
CREATE FUNCTION public.assert_run_lease(p_run_id text, p_token uuid) RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$ BEGIN PERFORM app.check_run_lease(p_run_id, p_token); END $$;

-- worker: record a step (run, index). A step already completed is returned as it was (a retry replays it); the
-- write is refused unless the lease is current.
CREATE FUNCTION public.record_run_step(
    p_run_id text, p_token uuid, p_idx integer, p_kind text, p_idempotency_key text, p_status text,
    p_result jsonb DEFAULT NULL, p_result_sealed bytea DEFAULT NULL)
  RETURNS TABLE (idx integer, kind text, status text, result jsonb, result_sealed bytea, replayed boolean)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_ws text := app.check_run_lease(p_run_id, p_token);
  v_existing public.run_steps%ROWTYPE;
BEGIN
  SELECT * INTO v_existing FROM public.run_steps s WHERE s.run_id = p_run_id AND s.idx = p_idx FOR UPDATE;
  IF FOUND THEN
    IF v_existing.idempotency_key <> p_idempotency_key THEN
      RAISE EXCEPTION 'step % of this run has a different idempotency key', p_idx USING ERRCODE = 'PXV01';
    END IF;
    IF v_existing.status = 'completed' THEN
      RETURN QUERY SELECT v_existing.idx, v_existing.kind, v_existing.status, v_existing.result,
                          v_existing.result_sealed, true;
      RETURN;
    END IF;
    UPDATE public.run_steps s
       SET status = p_status, result = p_result, result_sealed = p_result_sealed,
           completed_at = CASE WHEN p_status = 'completed' THEN clock_timestamp() END
     WHERE s.run_id = p_run_id AND s.idx = p_idx;
  ELSE
    INSERT INTO public.run_steps (workspace_id, run_id, idx, kind, idempotency_key, status, result, result_sealed,
                                  completed_at)
    VALUES (v_ws, p_run_id, p_idx, p_kind, p_idempotency_key, p_status, p_result, p_result_sealed,
            CASE WHEN p_status = 'completed' THEN clock_timestamp() END);
  END IF;
  RETURN QUERY SELECT p_idx, p_kind, p_status, p_result, p_result_sealed, false;
END $$;

-- worker: end a run it holds.
CREATE FUNCTION public.finish_run(p_run_id text, p_token uuid, p_status text, p_error_code text DEFAULT NULL)
  RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_status NOT IN ('succeeded', 'failed', 'skipped', 'cancelled') THEN
    RAISE EXCEPTION 'a finished run is succeeded, failed, skipped or cancelled' USING ERRCODE = 'PXV01';
  END IF;
  PERFORM app.check_run_lease(p_run_id, p_token);
  UPDATE public.agent_runs
     SET status = p_status, error_code = p_error_code, finished_at = clock_timestamp(), updated_at = clock_timestamp(),
         lease_token = NULL, lease_holder = NULL, lease_expires_at = NULL
   WHERE id = p_run_id;
END $$;

-- reconciler (monitor): runs that may have lost their job — queued for longer than the grace period, or running
-- with an expired lease — across workspaces, oldest first.
CREATE FUNCTION public.list_stale_runs(p_queued_grace_seconds integer, p_limit integer)
  RETURNS TABLE (run_id text, workspace_id text, status text, not_before timestamptz, created_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT r.id, r.workspace_id, r.status, r.not_before, r.created_at
    FROM public.agent_runs r
   WHERE (r.status = 'queued' AND r.created_at < clock_timestamp() - make_interval(secs => p_queued_grace_seconds))
      OR (r.status = 'running' AND r.lease_expires_at < clock_timestamp())
   ORDER BY r.created_at
   LIMIT LEAST(GREATEST(p_limit, 1), 10000)
$$;

-- reconciler (monitor): hand a running run whose lease expired back to queued. True if it did.
CREATE FUNCTION public.hand_back_run(p_run_id text) RETURNS boolean
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE v_n integer;
BEGIN
  UPDATE public.agent_runs
     SET status = 'queued', lease_token = NULL, lease_holder = NULL, lease_expires_at = NULL,
         updated_at = clock_timestamp()
   WHERE id = p_run_id AND status = 'running' AND lease_expires_at < clock_timestamp();
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n = 1;
END $$;

-- operator (CLI seed / provisioning): create a tenant and a workspace. Executable only by praxa_owner members.
CREATE FUNCTION public.admin_provision_workspace(p_tenant_id text, p_tenant_name text, p_workspace_id text,
                                                 p_workspace_name text)
  RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  INSERT INTO public.tenants (id, name) VALUES (p_tenant_id, p_tenant_name) ON CONFLICT (id) DO NOTHING;
  INSERT INTO public.workspaces (id, tenant_id, name) VALUES (p_workspace_id, p_tenant_id, p_workspace_name)
  ON CONFLICT (id) DO NOTHING;
END $$;

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

GRANT EXECUTE ON FUNCTION public.ingest_resolve_installation(text, text) TO praxa_ingest;
GRANT EXECUTE ON FUNCTION public.ingest_subscribed_skills(text, text) TO praxa_ingest;
GRANT EXECUTE ON FUNCTION public.ingest_create_runs(text, text, text, text, text, jsonb, jsonb, timestamptz) TO praxa_ingest;
GRANT EXECUTE ON FUNCTION public.claim_run(text, text, integer) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.renew_run_lease(text, uuid, integer) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.assert_run_lease(text, uuid) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.record_run_step(text, uuid, integer, text, text, text, jsonb, bytea) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.finish_run(text, uuid, text, text) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.list_stale_runs(integer, integer) TO praxa_monitor;
GRANT EXECUTE ON FUNCTION public.hand_back_run(text) TO praxa_monitor;
GRANT EXECUTE ON FUNCTION public.admin_provision_workspace(text, text, text, text) TO praxa_owner;
-- app.check_run_lease is called only from inside the definer functions above (as praxa_definer).
