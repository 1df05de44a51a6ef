-- Human approval for high-impact tools (issue #21, item 5). A Skill's manifest names effect tools that act only after a
-- human approves (`approval.tools`). When a run reaches one, the worker records an approval (`run_approvals`, one per
-- run and step), posts the Approve / Deny message, and parks the run: `waiting_approval`, its lease cleared and not
-- dispatched — it holds no slot and no lease, neither the dispatcher nor claim_run picks it up, and its journal is kept.
-- A decision comes from a human only, re-checked here:
--   * api: a live `human` token of a member whose role is one of the approval's roles (api_decide_approval);
--   * Slack: a click by a Slack user linked to such a member (workspace_members.slack_user_id), in the Slack team the
--     approval's workspace has installed, never the team's own bot (ingest_decide_approval);
--   * nobody decides for the run's own worker: praxa_worker holds no grant on any deciding function nor on the table.
-- A decision (or the expiry sweep, monitor_expire_approvals) puts the run back to `queued`, undispatched: the dispatcher
-- serves it, the worker replays its journal to the gated step and finds the decision — granted: the tool acts; denied
-- or expired: no effect, the run finishes `denied`.
SET LOCAL ROLE praxa_owner;

ALTER TABLE agent_runs DROP CONSTRAINT agent_runs_status_check;
ALTER TABLE agent_runs ADD CONSTRAINT agent_runs_status_check
  CHECK (status IN ('queued', 'running', 'waiting_approval', 'succeeded', 'failed', 'skipped', 'cancelled', 'denied'));
-- (agent_runs_check, running ⇔ lease, is kept: a parked run has no lease.)

-- A member's Slack user, so a click on an Approve / Deny button maps to a member (and its role). One per workspace.
ALTER TABLE workspace_members ADD COLUMN slack_user_id text CHECK (slack_user_id ~ '^[UW][A-Z0-9]{2,30}$');
ALTER TABLE workspace_members ADD CONSTRAINT workspace_members_slack_user_key UNIQUE (workspace_id, slack_user_id);

CREATE TABLE run_approvals (
  workspace_id       text NOT NULL,
  id                 text NOT NULL PRIMARY KEY CHECK (app.is_typeid(id, 'ap')),
  run_id             text NOT NULL,
  skill_id           text NOT NULL,
  step               integer NOT NULL CHECK (step >= 0),
  tool               text NOT NULL CHECK (tool ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$'),
  status             text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'granted', 'denied', 'expired')),
  -- Who may decide, from the manifest when it was asked for.
  roles              text[] NOT NULL CHECK (cardinality(roles) BETWEEN 1 AND 3 AND roles <@ ARRAY['owner', 'admin', 'member']),
  slack_channel      text CHECK (slack_channel ~ '^[CG][A-Z0-9]{2,30}$'),
  slack_ts           text CHECK (slack_ts ~ '^[0-9]{1,12}\.[0-9]{1,8}$'),
  requested_at       timestamptz NOT NULL DEFAULT now(),
  expires_at         timestamptz NOT NULL,
  decided_at         timestamptz,
  decided_by_member  text,
  decided_via        text CHECK (decided_via IN ('api', 'slack', 'expiry')),
  reason             text CHECK (length(reason) BETWEEN 1 AND 500),
  UNIQUE (workspace_id, id),
  UNIQUE (run_id, step),
  FOREIGN KEY (workspace_id, run_id) REFERENCES agent_runs (workspace_id, id) ON DELETE CASCADE, -- the run's approvals go with it
  FOREIGN KEY (workspace_id, skill_id) REFERENCES skills (workspace_id, id),
  FOREIGN KEY (workspace_id, decided_by_member) REFERENCES workspace_members (workspace_id, id),
  CHECK ((status = 'pending') = (decided_at IS NULL)),
  CHECK ((status = 'pending') = (decided_via IS NULL)),
  -- A human decided (api, slack) — a member is named; the expiry names none.
  CHECK ((decided_via IN ('api', 'slack')) = (decided_by_member IS NOT NULL)),
  CHECK (decided_via IS DISTINCT FROM 'expiry' OR status = 'expired')
);
CREATE INDEX run_approvals_workspace_idx ON run_approvals (workspace_id, requested_at DESC, id DESC);
CREATE INDEX run_approvals_pending_expiry_idx ON run_approvals (expires_at) WHERE status = 'pending';
SELECT app.enable_tenant_rls('run_approvals');

GRANT SELECT ON run_approvals TO praxa_api;
GRANT SELECT, INSERT, UPDATE ON run_approvals TO praxa_definer;
GRANT UPDATE (slack_user_id) ON workspace_members TO praxa_definer;

RESET ROLE;

-- A parked run's subagent task goes too when it ends `denied` (0025's trigger, with the new final status).
DROP TRIGGER agent_runs_purge_subagent_task ON agent_runs;
CREATE TRIGGER agent_runs_purge_subagent_task AFTER UPDATE OF status ON agent_runs
  FOR EACH ROW WHEN (NEW.status IN ('succeeded', 'failed', 'skipped', 'cancelled', 'denied') AND OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION app.purge_subagent_task_at_run_end();


-- Settle a pending approval (the row locked by the caller) and hand its run back to the dispatcher if it is parked.
CREATE FUNCTION app.settle_approval(p_approval_id text, p_status text, p_member text, p_via text, p_reason text)
  RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_run text;
BEGIN
  UPDATE public.run_approvals a
     SET status = p_status, decided_at = clock_timestamp(), decided_by_member = p_member, decided_via = p_via,
         reason = p_reason
   WHERE a.id = p_approval_id AND a.status = 'pending'
  RETURNING a.run_id INTO v_run;
  IF v_run IS NULL THEN
    RAISE EXCEPTION 'approval is not pending' USING ERRCODE = 'PXV01';
  END IF;
  UPDATE public.agent_runs r
     SET status = 'queued', dispatched_at = NULL, not_before = NULL, updated_at = clock_timestamp()
   WHERE r.id = v_run AND r.status = 'waiting_approval';
END $$;

-- worker, under the run's lease: the approval of this step (one per run and step; a second call returns the first).
-- The run keeps running: the worker posts the message, then parks it (park_for_approval).
CREATE FUNCTION public.request_approval(p_run_id text, p_token uuid, p_approval_id text, p_step integer, p_tool text,
                                        p_expires_minutes integer, p_roles text[], p_channel text)
  RETURNS TABLE (approval_id text, status text, created boolean, expires_at timestamptz, slack_ts text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  v_ws text := app.check_run_lease(p_run_id, p_token);
  v_skill text;
  v_n integer;
BEGIN
  IF p_expires_minutes IS NULL OR p_expires_minutes NOT BETWEEN 1 AND 10080 THEN
    RAISE EXCEPTION 'an approval expires after 1 to 10080 minutes' USING ERRCODE = 'PXV01';
  END IF;
  SELECT r.skill_id INTO v_skill FROM public.agent_runs r WHERE r.id = p_run_id;
  INSERT INTO public.run_approvals (workspace_id, id, run_id, skill_id, step, tool, roles, slack_channel, expires_at)
  VALUES (v_ws, p_approval_id, p_run_id, v_skill, p_step, p_tool, p_roles, p_channel,
          clock_timestamp() + make_interval(mins => p_expires_minutes))
  ON CONFLICT (run_id, step) DO NOTHING;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN QUERY
    SELECT a.id, a.status, v_n = 1, a.expires_at, a.slack_ts FROM public.run_approvals a
     WHERE a.run_id = p_run_id AND a.step = p_step;
END $$;

-- worker, under the run's lease: record the message (if one was posted) and park the run — `waiting_approval`, lease
-- cleared, undispatched: no slot, no lease. A parked run is not an attempt. If the approval was decided meanwhile the
-- run is handed back to the dispatcher instead (it resumes at once). Returns the approval's status.
CREATE FUNCTION public.park_for_approval(p_run_id text, p_token uuid, p_approval_id text, p_slack_ts text)
  RETURNS text
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_ws text := app.check_run_lease(p_run_id, p_token);
  v_status text;
BEGIN
  UPDATE public.run_approvals a SET slack_ts = COALESCE(p_slack_ts, a.slack_ts)
   WHERE a.workspace_id = v_ws AND a.id = p_approval_id AND a.run_id = p_run_id
  RETURNING a.status INTO v_status;
  IF v_status IS NULL THEN
    RAISE EXCEPTION 'approval not found' USING ERRCODE = 'PXN01';
  END IF;
  UPDATE public.agent_runs r
     SET status = CASE WHEN v_status = 'pending' THEN 'waiting_approval' ELSE 'queued' END,
         lease_token = NULL, lease_holder = NULL, lease_expires_at = NULL, dispatched_at = NULL,
         attempt = GREATEST(r.attempt - 1, 0), updated_at = clock_timestamp()
   WHERE r.id = p_run_id;
  RETURN v_status;
END $$;

-- worker, under the run's lease: the decision on this step's approval (no row: never asked).
CREATE FUNCTION public.approval_for_step(p_run_id text, p_token uuid, p_step integer)
  RETURNS TABLE (approval_id text, status text, tool text, decided_by_member text, decided_via text, reason text,
                 decided_at timestamptz)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  v_ws text := app.check_run_lease(p_run_id, p_token);
BEGIN
  RETURN QUERY
    SELECT a.id, a.status, a.tool, a.decided_by_member, a.decided_via, a.reason, a.decided_at
      FROM public.run_approvals a
     WHERE a.workspace_id = v_ws AND a.run_id = p_run_id AND a.step = p_step;
END $$;

-- api (in the caller's workspace scope): a human decides. The token is re-checked here from its secret's hash: live,
-- of this workspace, kind `human`, its member's role one of the approval's roles — anything else is refused (42501),
-- whatever the route checked. Outcomes: granted | denied; already_decided (its status is returned); expired (past its
-- time: settled as expired now); run_finished (the run ended another way — cancelled — and waits for nothing).
CREATE FUNCTION public.api_decide_approval(p_approval_id text, p_token_id text, p_secret_sha256 text, p_decision text,
                                           p_reason text)
  RETURNS TABLE (outcome text, status text, run_id text, skill_id text, step integer, tool text, member_id text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  v_ws text := app.current_workspace();
  v_a public.run_approvals%ROWTYPE;
  v_member text;
  v_role text;
  v_kind text;
  v_run_status text;
BEGIN
  IF v_ws IS NULL THEN
    RAISE EXCEPTION 'this needs a workspace scope' USING ERRCODE = 'PXS01';
  END IF;
  IF p_decision NOT IN ('granted', 'denied') THEN
    RAISE EXCEPTION 'a decision is granted or denied' USING ERRCODE = 'PXV01';
  END IF;
  IF p_reason IS NOT NULL AND length(p_reason) NOT BETWEEN 1 AND 500 THEN
    RAISE EXCEPTION 'a reason has 1 to 500 characters' USING ERRCODE = 'PXV01';
  END IF;
  SELECT * INTO v_a FROM public.run_approvals a WHERE a.workspace_id = v_ws AND a.id = p_approval_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'approval not found' USING ERRCODE = 'PXN01';
  END IF;
  SELECT t.member_id, m.role, t.kind INTO v_member, v_role, v_kind
    FROM public.api_tokens t
    JOIN public.workspace_members m ON m.workspace_id = t.workspace_id AND m.id = t.member_id
   WHERE t.workspace_id = v_ws AND t.id = p_token_id AND t.secret_sha256 = p_secret_sha256
     AND t.revoked_at IS NULL AND t.expires_at > clock_timestamp();
  IF NOT FOUND OR v_kind <> 'human' OR NOT (v_role = ANY (v_a.roles)) THEN
    RAISE EXCEPTION 'only a human member with one of the approval''s roles decides' USING ERRCODE = '42501';
  END IF;
  IF v_a.status <> 'pending' THEN
    RETURN QUERY SELECT 'already_decided'::text, v_a.status, v_a.run_id, v_a.skill_id, v_a.step, v_a.tool, v_member;
    RETURN;
  END IF;
  SELECT r.status INTO v_run_status FROM public.agent_runs r WHERE r.id = v_a.run_id FOR UPDATE;
  IF v_a.expires_at <= clock_timestamp() THEN
    PERFORM app.settle_approval(v_a.id, 'expired', NULL, 'expiry', NULL);
    RETURN QUERY SELECT 'expired'::text, 'expired'::text, v_a.run_id, v_a.skill_id, v_a.step, v_a.tool, v_member;
    RETURN;
  END IF;
  IF v_run_status NOT IN ('waiting_approval', 'running', 'queued') THEN
    RETURN QUERY SELECT 'run_finished'::text, v_a.status, v_a.run_id, v_a.skill_id, v_a.step, v_a.tool, v_member;
    RETURN;
  END IF;
  PERFORM app.settle_approval(v_a.id, p_decision, v_member, 'api', p_reason);
  RETURN QUERY SELECT p_decision, p_decision, v_a.run_id, v_a.skill_id, v_a.step, v_a.tool, v_member;
END $$;

-- ingest: a click on an Approve / Deny button, after the Slack signature is verified. The approval's workspace must
-- own the team (an active Slack integration), the clicking user must not be the team's bot and must be linked to a
-- member of that workspace whose role is one of the approval's roles. Outcomes: granted | denied; refused (a bot, a
-- stranger, a role that may not decide — nothing changes); unknown_installation; not_found (no such approval in the
-- team's workspace); already_decided; expired; run_finished.
CREATE FUNCTION public.ingest_decide_approval(p_team_id text, p_slack_user_id text, p_approval_id text, p_decision text)
  RETURNS TABLE (outcome text, workspace_id text, run_id text, member_id text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  v_ws text;
  v_bot text;
  v_a public.run_approvals%ROWTYPE;
  v_member text;
  v_role text;
  v_run_status text;
BEGIN
  IF p_decision NOT IN ('granted', 'denied') THEN
    RAISE EXCEPTION 'a decision is granted or denied' USING ERRCODE = 'PXV01';
  END IF;
  SELECT i.workspace_id, i.bot_identity ->> 'user_id' INTO v_ws, v_bot FROM public.integrations i
   WHERE i.provider = 'slack' AND i.external_id = p_team_id AND i.status = 'active';
  IF v_ws IS NULL THEN
    RETURN QUERY SELECT 'unknown_installation'::text, NULL::text, NULL::text, NULL::text;
    RETURN;
  END IF;
  SELECT * INTO v_a FROM public.run_approvals a WHERE a.workspace_id = v_ws AND a.id = p_approval_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'not_found'::text, v_ws, NULL::text, NULL::text;
    RETURN;
  END IF;
  SELECT m.id, m.role INTO v_member, v_role FROM public.workspace_members m
   WHERE m.workspace_id = v_ws AND m.slack_user_id = p_slack_user_id;
  IF v_member IS NULL OR p_slack_user_id IS NOT DISTINCT FROM v_bot OR NOT (v_role = ANY (v_a.roles)) THEN
    RETURN QUERY SELECT 'refused'::text, v_ws, v_a.run_id, NULL::text;
    RETURN;
  END IF;
  IF v_a.status <> 'pending' THEN
    RETURN QUERY SELECT 'already_decided'::text, v_ws, v_a.run_id, v_member;
    RETURN;
  END IF;
  SELECT r.status INTO v_run_status FROM public.agent_runs r WHERE r.id = v_a.run_id FOR UPDATE;
  IF v_a.expires_at <= clock_timestamp() THEN
    PERFORM app.settle_approval(v_a.id, 'expired', NULL, 'expiry', NULL);
    RETURN QUERY SELECT 'expired'::text, v_ws, v_a.run_id, v_member;
    RETURN;
  END IF;
  IF v_run_status NOT IN ('waiting_approval', 'running', 'queued') THEN
    RETURN QUERY SELECT 'run_finished'::text, v_ws, v_a.run_id, v_member;
    RETURN;
  END IF;
  PERFORM app.settle_approval(v_a.id, p_decision, v_member, 'slack', NULL);
  RETURN QUERY SELECT p_decision, v_ws, v_a.run_id, v_member;
END $$;

-- monitor: pending approvals past their time → expired, their runs handed back (they finish `denied`). Oldest first.
CREATE FUNCTION public.monitor_expire_approvals(p_limit integer)
  RETURNS TABLE (approval_id text, workspace_id text, run_id text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  v_a record;
BEGIN
  FOR v_a IN
    SELECT a.id, a.workspace_id, a.run_id FROM public.run_approvals a
     WHERE a.status = 'pending' AND a.expires_at <= clock_timestamp()
     ORDER BY a.expires_at
     LIMIT LEAST(GREATEST(p_limit, 1), 10000)
       FOR UPDATE SKIP LOCKED
  LOOP
    PERFORM app.settle_approval(v_a.id, 'expired', NULL, 'expiry', NULL);
    RETURN QUERY SELECT v_a.id, v_a.workspace_id, v_a.run_id;
  END LOOP;
END $$;

-- api (in scope): link a member to their Slack user (or unlink: NULL), so their clicks decide approvals. Only a human
-- owner or admin (app.check_admin_token, re-checked from the token's hash). Returns the previous link.
CREATE FUNCTION public.api_link_member_slack(p_member_id text, p_slack_user_id text, p_token_id text,
                                             p_secret_sha256 text)
  RETURNS TABLE (member_id text, actor_member_id text, previous text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  v_ws text := app.current_workspace();
  v_actor text := app.check_admin_token(p_token_id, p_secret_sha256, true);
  v_prev text;
BEGIN
  SELECT m.slack_user_id INTO v_prev FROM public.workspace_members m
   WHERE m.workspace_id = v_ws AND m.id = p_member_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'member not found' USING ERRCODE = 'PXN01';
  END IF;
  UPDATE public.workspace_members m SET slack_user_id = p_slack_user_id
   WHERE m.workspace_id = v_ws AND m.id = p_member_id;
  RETURN QUERY SELECT p_member_id, v_actor, v_prev;
END $$;

-- cancel_runs (0027) also cancels a parked run at once (it holds no lease: nothing to stop). Otherwise unchanged.
CREATE OR REPLACE FUNCTION public.cancel_runs(p_run_ids text[])
  RETURNS TABLE (run_id text, outcome text, prior_status text, skill_id text, trigger text, manifest_hash text,
                 dispatch_seq integer)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_ws text := app.current_workspace();
BEGIN
  IF v_ws IS NULL THEN
    RAISE EXCEPTION 'no workspace scope' USING ERRCODE = 'PXS01';
  END IF;
  IF p_run_ids IS NULL OR cardinality(p_run_ids) > 10000 THEN
    RAISE EXCEPTION 'between 0 and 10000 runs at a time' USING ERRCODE = 'PXV01';
  END IF;
  RETURN QUERY
  WITH target AS (
      SELECT r.id, r.status, r.skill_id, r.skill_version_id, r.trigger, r.dispatch_seq, r.cancel_requested_at
        FROM public.agent_runs r
       WHERE r.workspace_id = v_ws AND r.id = ANY (p_run_ids)
       ORDER BY r.id
         FOR UPDATE
    ),
    changed AS (
      UPDATE public.agent_runs r
         SET status = CASE WHEN t.status IN ('queued', 'waiting_approval') THEN 'cancelled' ELSE r.status END,
             finished_at = CASE WHEN t.status IN ('queued', 'waiting_approval') THEN clock_timestamp() ELSE r.finished_at END,
             failure_class = CASE WHEN t.status IN ('queued', 'waiting_approval') THEN 'cancelled' ELSE r.failure_class END,
             dispatched_at = NULL,
             cancel_requested_at = COALESCE(r.cancel_requested_at, clock_timestamp()),
             updated_at = clock_timestamp()
        FROM target t
       WHERE r.id = t.id AND t.status IN ('queued', 'running', 'waiting_approval')
      RETURNING r.id
    )
  SELECT t.id,
         CASE WHEN t.status IN ('queued', 'waiting_approval') THEN 'cancelled'
              WHEN t.status = 'running' AND t.cancel_requested_at IS NOT NULL THEN 'already_cancelling'
              WHEN t.status = 'running' THEN 'cancelling' ELSE 'finished' END,
         t.status, t.skill_id, t.trigger, v.manifest_hash, t.dispatch_seq
    FROM target t
    JOIN public.skill_versions v ON v.workspace_id = v_ws AND v.id = t.skill_version_id
    LEFT JOIN changed c ON c.id = t.id
   ORDER BY t.id;
END $$;

-- finish_run (0027) also ends a run `denied` (an approval denied or expired: no effect). Otherwise unchanged.
CREATE OR REPLACE FUNCTION public.finish_run(p_run_id text, p_token uuid, p_status text, p_error_code text DEFAULT NULL,
                                             p_failure_class text DEFAULT NULL)
  RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_run public.agent_runs%ROWTYPE;
BEGIN
  IF p_status NOT IN ('succeeded', 'failed', 'skipped', 'cancelled', 'denied') THEN
    RAISE EXCEPTION 'a finished run is succeeded, failed, skipped, cancelled or denied' USING ERRCODE = 'PXV01';
  END IF;
  IF p_status = 'cancelled' THEN
    SELECT * INTO v_run FROM public.agent_runs r WHERE r.id = p_run_id FOR UPDATE;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'run not found' USING ERRCODE = 'PXN01';
    END IF;
    IF v_run.workspace_id IS DISTINCT FROM app.current_workspace() THEN
      RAISE EXCEPTION 'run is not in the workspace of this scope' USING ERRCODE = 'PXS01';
    END IF;
    IF v_run.status <> 'running' OR v_run.lease_token IS DISTINCT FROM p_token OR v_run.cancel_requested_at IS NULL THEN
      RAISE EXCEPTION 'lease lost' USING ERRCODE = 'PXL01';
    END IF;
    UPDATE public.run_steps s SET result_sealed = NULL
     WHERE s.workspace_id = v_run.workspace_id AND s.run_id = p_run_id AND s.result_sealed IS NOT NULL;
  ELSE
    PERFORM app.check_run_lease(p_run_id, p_token);
  END IF;
  UPDATE public.agent_runs
     SET status = p_status, error_code = p_error_code, finished_at = clock_timestamp(), updated_at = clock_timestamp(),
         failure_class = CASE WHEN p_status = 'cancelled' THEN 'cancelled'
                              WHEN p_status = 'failed' THEN COALESCE(p_failure_class, 'permanent') END,
         lease_token = NULL, lease_holder = NULL, lease_expires_at = NULL
   WHERE id = p_run_id;
END $$;

DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN
    SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
      JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     WHERE p.prosecdef AND n.nspname IN ('public', 'app')
       AND p.proname IN ('settle_approval', 'request_approval', 'park_for_approval', 'approval_for_step',
                         'api_decide_approval', 'ingest_decide_approval', 'monitor_expire_approvals',
                         'api_link_member_slack', 'cancel_runs', 'finish_run')
  LOOP
    EXECUTE pg_catalog.format('ALTER FUNCTION %s OWNER TO praxa_definer', f);
    EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
END $$;

GRANT EXECUTE ON FUNCTION public.request_approval(text, uuid, text, integer, text, integer, text[], text) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.park_for_approval(text, uuid, text, text) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.approval_for_step(text, uuid, integer) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.api_decide_approval(text, text, text, text, text) TO praxa_api;
GRANT EXECUTE ON FUNCTION public.api_link_member_slack(text, text, text, text) TO praxa_api;
GRANT EXECUTE ON FUNCTION public.ingest_decide_approval(text, text, text, text) TO praxa_ingest;
GRANT EXECUTE ON FUNCTION public.monitor_expire_approvals(integer) TO praxa_monitor;
-- cancel_runs and finish_run keep their grants (praxa_api, praxa_worker). app.settle_approval runs only inside the
-- functions above (as praxa_definer). praxa_worker decides nothing: no grant on a deciding function or the table.
