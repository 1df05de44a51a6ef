-- Fleet control (issue #19): per-workspace concurrency caps held fleet-wide, fair share across workspaces, a tenant's
-- rate limits gating only that tenant, cancel, dead letters and redrive, fast recovery from a dead worker. The run row
-- stays the source of truth; a job still carries only its run id. docs/decisions/0005-fair-dispatch.md says why.
--
-- A queued run is either *undispatched* (dispatched_at NULL: it waits in Postgres, the dispatcher's to move) or
-- *dispatched* (a `{runId}` job exists, or is being added, under job id `<runId>.<dispatch_seq>`). The dispatcher
-- (dispatch_runs, called by every worker process, one pass at a time) moves undispatched runs into the queue in
-- round-robin order across workspaces, never beyond a workspace's free capacity (cap − running − dispatched) nor the
-- fleet's look-ahead (dispatched runs waiting for a worker). claim_run enforces the cap again under a per-workspace
-- lock, so no count held in a process or in Redis can drift it.

ALTER TABLE agent_runs
  ADD COLUMN dispatched_at        timestamptz,
  ADD COLUMN dispatch_seq         integer NOT NULL DEFAULT 0 CHECK (dispatch_seq >= 0),
  ADD COLUMN deferrals            integer NOT NULL DEFAULT 0 CHECK (deferrals >= 0),
  ADD COLUMN cancel_requested_at  timestamptz,
  ADD COLUMN failure_class        text CHECK (failure_class IN ('guard', 'permanent', 'exhausted', 'throttled', 'integration_gone', 'cancelled')),
  ADD COLUMN retry_of             text,
  ADD CONSTRAINT agent_runs_retry_of_fkey FOREIGN KEY (workspace_id, retry_of) REFERENCES agent_runs (workspace_id, id),
  ADD CONSTRAINT agent_runs_dispatched_queued CHECK (dispatched_at IS NULL OR status = 'queued');

-- Runs queued before this migration already have a job under the bare run id (dispatch_seq 0 keeps that id).
UPDATE agent_runs SET dispatched_at = now() WHERE status = 'queued';

-- The table is a queue as well as a record: analyze and vacuum it far more often than the default 10–20 % of rows, so
-- the dispatcher's plans and partial indexes stay sharp through a burst of thousands of runs.
ALTER TABLE agent_runs SET (autovacuum_analyze_scale_factor = 0.02, autovacuum_vacuum_scale_factor = 0.05);

-- The dispatcher's reads: workspaces with undispatched runs (a loose index scan), their oldest runs, and what each
-- workspace has in flight.
CREATE INDEX agent_runs_undispatched_idx ON agent_runs (workspace_id, created_at, id)
  WHERE status = 'queued' AND dispatched_at IS NULL;
CREATE INDEX agent_runs_inflight_idx ON agent_runs (workspace_id)
  WHERE status = 'running' OR (status = 'queued' AND dispatched_at IS NOT NULL);
-- The fleet's look-ahead in use (dispatched, not yet claimed), counted by every pass and every ingest: an index of
-- exactly those rows, so the count never walks a backlog — with stale statistics after a burst the planner otherwise
-- took the pending index and read every queued run (7 ms idle, ~90 ms under load, with 40 000 queued).
CREATE INDEX agent_runs_dispatched_idx ON agent_runs (dispatched_at) WHERE status = 'queued' AND dispatched_at IS NOT NULL;
-- Expired leases, handed back by every pass: only running runs, by expiry.
CREATE INDEX agent_runs_lease_expiry_idx ON agent_runs (lease_expires_at) WHERE status = 'running';
CREATE INDEX agent_runs_retry_of_idx ON agent_runs (workspace_id, retry_of) WHERE retry_of IS NOT NULL;
CREATE INDEX agent_runs_integration_open_idx ON agent_runs (workspace_id, integration_id)
  WHERE status IN ('queued', 'running');

-- Fleet-wide defaults, one row, set by an operator (`praxa fleet set`).
CREATE TABLE fleet_settings (
  id                             boolean PRIMARY KEY DEFAULT true CHECK (id),
  -- Runs of one workspace running at once across the fleet, unless the workspace has its own cap.
  default_workspace_concurrency  integer NOT NULL DEFAULT 10 CHECK (default_workspace_concurrency BETWEEN 1 AND 100000),
  -- Dispatched runs waiting for a worker, fleet-wide: the queue is kept this shallow so that the order in which runs
  -- start is the dispatcher's fair order, not FIFO across tenants. About twice the fleet's worker slots.
  dispatch_ahead                 integer NOT NULL DEFAULT 64 CHECK (dispatch_ahead BETWEEN 1 AND 100000),
  updated_at                     timestamptz NOT NULL DEFAULT now()
);
INSERT INTO fleet_settings DEFAULT VALUES;
SELECT app.enable_platform_rls('fleet_settings');

-- Per workspace: the operator's cap override (NULL: the default; 0: hold every run) and the dispatcher's round-robin
-- clock: the fleet-wide pick number of the workspace's latest dispatch (among equals, the one served longest ago goes
-- first). A counter, not a time: picks made in one pass are ordered, so no workspace wins ties by its id.
CREATE TABLE workspace_fleet (
  workspace_id     text PRIMARY KEY REFERENCES workspaces (id),
  max_concurrency  integer CHECK (max_concurrency BETWEEN 0 AND 100000),
  last_served      bigint NOT NULL DEFAULT 0 CHECK (last_served >= 0),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
SELECT app.enable_tenant_rls('workspace_fleet');

-- A throttled resource of a workspace: its model key ('model') or one integration ('integration:<id>'), closed until
-- `until`. Runs that need it are neither dispatched nor claimed before then; other workspaces never see it.
CREATE TABLE run_gates (
  workspace_id  text NOT NULL REFERENCES workspaces (id),
  resource      text NOT NULL CHECK (resource ~ '^(model|integration:[a-z]{2,8}_[0-9a-z]{26})$'),
  until         timestamptz NOT NULL,
  code          text NOT NULL CHECK (code ~ '^[A-Z][A-Z0-9_]{1,63}$'),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, resource)
);
SELECT app.enable_tenant_rls('run_gates');

GRANT SELECT ON workspace_fleet, run_gates TO praxa_api, praxa_monitor;
GRANT SELECT, INSERT, UPDATE, DELETE ON workspace_fleet, run_gates TO praxa_definer;
GRANT SELECT, UPDATE ON fleet_settings TO praxa_definer;
GRANT UPDATE ON integrations TO praxa_definer;

-- The cap of a workspace now.
CREATE FUNCTION app.workspace_cap(p_workspace_id text) RETURNS integer
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT COALESCE((SELECT f.max_concurrency FROM public.workspace_fleet f WHERE f.workspace_id = p_workspace_id),
                  (SELECT s.default_workspace_concurrency FROM public.fleet_settings s))
$$;

-- Whether a run's resources are gated now; the latest `until` among its gates, else NULL.
CREATE FUNCTION app.run_gate_until(p_workspace_id text, p_integration_id text) RETURNS timestamptz
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT max(g.until) FROM public.run_gates g
   WHERE g.workspace_id = p_workspace_id AND g.until > clock_timestamp()
     AND (g.resource = 'model' OR g.resource = 'integration:' || p_integration_id)
$$;

-- The fencing check now also answers "cancelled" (PXC01): a run a human cancelled stops at its next step boundary.
CREATE OR REPLACE FUNCTION app.check_run_lease(p_run_id text, p_token uuid) RETURNS text
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_ws text;
  v_status text;
  v_token uuid;
  v_expires timestamptz;
  v_cancel timestamptz;
BEGIN
  SELECT r.workspace_id, r.status, r.lease_token, r.lease_expires_at, r.cancel_requested_at
    INTO v_ws, v_status, v_token, v_expires, v_cancel
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
  IF v_cancel IS NOT NULL THEN
    RAISE EXCEPTION 'run cancelled' USING ERRCODE = 'PXC01';
  END IF;
  RETURN v_ws;
END $$;

-- worker: claim a run by id. Outcomes:
--   claimed        — the lease is ours (the other columns are set);
--   not_claimable  — finished, cancelled, or held by a live lease;
--   not_yet        — its not_before is in the future: handed back to the dispatcher;
--   gated          — a resource it needs (the model key, its integration) is throttled: handed back, delayed;
--   capped         — its workspace already runs its cap: handed back to the dispatcher.
-- The cap is checked under a per-workspace transaction lock, so concurrent claims on any number of hosts cannot
-- exceed it.
DROP FUNCTION public.claim_run(text, text, integer);
CREATE FUNCTION public.claim_run(p_run_id text, p_worker_id text, p_lease_seconds integer DEFAULT 30)
  RETURNS TABLE (outcome text, workspace_id text, skill_id text, skill_version_id text, trigger text, attempt integer,
                 lease_token uuid, lease_expires_at timestamptz, deferrals integer)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_run public.agent_runs%ROWTYPE;
  v_gate timestamptz;
  v_running integer;
BEGIN
  IF p_lease_seconds IS NULL OR p_lease_seconds < 5 OR p_lease_seconds > 3600 THEN
    RAISE EXCEPTION 'lease must be between 5 and 3600 seconds' USING ERRCODE = 'PXV01';
  END IF;
  SELECT * INTO v_run FROM public.agent_runs r WHERE r.id = p_run_id FOR UPDATE;
  IF NOT FOUND OR NOT (v_run.status = 'queued' OR (v_run.status = 'running' AND v_run.lease_expires_at < clock_timestamp())) THEN
    RETURN QUERY SELECT 'not_claimable'::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::integer, NULL::uuid, NULL::timestamptz, NULL::integer;
    RETURN;
  END IF;
  IF v_run.status = 'queued' AND v_run.not_before IS NOT NULL AND v_run.not_before > clock_timestamp() THEN
    UPDATE public.agent_runs r SET dispatched_at = NULL, updated_at = clock_timestamp() WHERE r.id = p_run_id;
    RETURN QUERY SELECT 'not_yet'::text, v_run.workspace_id, NULL::text, NULL::text, NULL::text, NULL::integer, NULL::uuid, v_run.not_before, NULL::integer;
    RETURN;
  END IF;
  v_gate := app.run_gate_until(v_run.workspace_id, v_run.integration_id);
  IF v_gate IS NOT NULL THEN
    UPDATE public.agent_runs r
       SET status = 'queued', lease_token = NULL, lease_holder = NULL, lease_expires_at = NULL,
           dispatched_at = NULL, not_before = v_gate, updated_at = clock_timestamp()
     WHERE r.id = p_run_id;
    RETURN QUERY SELECT 'gated'::text, v_run.workspace_id, NULL::text, NULL::text, NULL::text, NULL::integer, NULL::uuid, v_gate, NULL::integer;
    RETURN;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtextextended('praxa.workspace_cap:' || v_run.workspace_id, 0));
  SELECT count(*) INTO v_running FROM public.agent_runs r
   WHERE r.workspace_id = v_run.workspace_id AND r.status = 'running' AND r.id <> p_run_id;
  IF v_running >= app.workspace_cap(v_run.workspace_id) THEN
    UPDATE public.agent_runs r
       SET status = 'queued', lease_token = NULL, lease_holder = NULL, lease_expires_at = NULL,
           dispatched_at = NULL, updated_at = clock_timestamp()
     WHERE r.id = p_run_id;
    RETURN QUERY SELECT 'capped'::text, v_run.workspace_id, NULL::text, NULL::text, NULL::text, NULL::integer, NULL::uuid, NULL::timestamptz, NULL::integer;
    RETURN;
  END IF;
  RETURN QUERY
    UPDATE public.agent_runs r
       SET status = 'running',
           attempt = r.attempt + 1,
           lease_token = gen_random_uuid(),
           lease_holder = p_worker_id,
           lease_expires_at = clock_timestamp() + make_interval(secs => p_lease_seconds),
           dispatched_at = NULL,
           started_at = COALESCE(r.started_at, clock_timestamp()),
           updated_at = clock_timestamp()
     WHERE r.id = p_run_id
    RETURNING 'claimed'::text, r.workspace_id, r.skill_id, r.skill_version_id, r.trigger, r.attempt, r.lease_token,
              r.lease_expires_at, r.deferrals;
END $$;

-- worker: one dispatch pass. One pass runs at a time across the fleet (a transaction-level advisory lock; a second
-- caller waits for it, up to lock_timeout, then sees its result). It first hands back runs whose lease expired (their worker died), then
-- picks undispatched runs due now and not gated: each workspace's oldest first, at most its free capacity, ordered
-- by rank within the workspace and then by when the workspace was last served (round-robin on a pick counter), up
-- to the fleet's free look-ahead and p_limit. The picked runs get dispatched_at and a new dispatch_seq; the caller
-- adds their jobs (job id `<runId>.<seq>`) after this commits, with `priority` = the workspace's running runs plus
-- this run's rank in the pass, so inside the shallow queue too a workspace with little running goes first. (Counting
-- its queued jobs as well fed back on itself: a workspace whose jobs waited got ever later priorities — 0.86 of its
-- fair share at 10 workspaces.) A job that is never added is found by the reconciler.
CREATE FUNCTION public.dispatch_runs(p_limit integer)
  RETURNS TABLE (run_id text, workspace_id text, dispatch_seq integer, priority integer)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  -- The planner's estimate of the lateral scan is far above jit_above_cost: JIT would compile for ~25–40 ms a query
  -- that runs in ~1 ms (measured with a 40 000-run backlog). A pass runs after every finished run: never JIT it.
  SET jit = off
  -- A pass waits for the one before it (its kick must not be lost: the slot it freed would stay idle until the next
  -- timer), but never long: past this, the caller's next timer tries again.
  SET lock_timeout = '2s'
AS $$
DECLARE
  v_room integer;
  v_clock bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended('praxa.dispatch', 0));
  SELECT COALESCE(max(f.last_served), 0) INTO v_clock FROM public.workspace_fleet f;
  UPDATE public.agent_runs r
     SET status = 'queued', lease_token = NULL, lease_holder = NULL, lease_expires_at = NULL, dispatched_at = NULL,
         updated_at = clock_timestamp()
   WHERE r.status = 'running' AND r.lease_expires_at < clock_timestamp();
  SELECT s.dispatch_ahead - (SELECT count(*) FROM public.agent_runs r WHERE r.status = 'queued' AND r.dispatched_at IS NOT NULL)
    INTO v_room FROM public.fleet_settings s;
  v_room := LEAST(v_room, GREATEST(p_limit, 0));
  IF v_room <= 0 THEN
    RETURN;
  END IF;
  RETURN QUERY
  -- Ordered by agent_runs_undispatched_idx's whole key, so the planner takes that index whatever its statistics say.
  WITH RECURSIVE ws(wid) AS (
      (SELECT r.workspace_id FROM public.agent_runs r
        WHERE r.status = 'queued' AND r.dispatched_at IS NULL ORDER BY r.workspace_id, r.created_at, r.id LIMIT 1)
      UNION ALL
      SELECT (SELECT r.workspace_id FROM public.agent_runs r
               WHERE r.status = 'queued' AND r.dispatched_at IS NULL AND r.workspace_id > ws.wid
               ORDER BY r.workspace_id, r.created_at, r.id LIMIT 1)
        FROM ws WHERE ws.wid IS NOT NULL
    ),
    inflight AS (
      SELECT ws.wid,
             (SELECT count(*) FROM public.agent_runs x
               WHERE x.workspace_id = ws.wid
                 AND (x.status = 'running' OR (x.status = 'queued' AND x.dispatched_at IS NOT NULL)))::integer AS k,
             (SELECT count(*) FROM public.agent_runs x
               WHERE x.workspace_id = ws.wid AND x.status = 'running')::integer AS running
        FROM ws WHERE ws.wid IS NOT NULL
    ),
    free AS (
      SELECT ws.wid, app.workspace_cap(ws.wid) - i.k AS n, i.running, COALESCE(f.last_served, 0) AS served
        FROM ws JOIN inflight i ON i.wid = ws.wid
        LEFT JOIN public.workspace_fleet f ON f.workspace_id = ws.wid
       WHERE ws.wid IS NOT NULL
         -- A workspace whose model key is gated is skipped whole (no scan of its backlog).
         AND NOT EXISTS (SELECT 1 FROM public.run_gates g
                          WHERE g.workspace_id = ws.wid AND g.resource = 'model' AND g.until > clock_timestamp())
    ),
    candidates AS (
      SELECT c.id, free.wid, row_number() OVER (ORDER BY c.rank, free.served, c.created_at, c.id) AS pick,
             (free.running + c.rank)::integer AS priority
        FROM free
        CROSS JOIN LATERAL (
          SELECT r.id, r.created_at, row_number() OVER (ORDER BY r.created_at, r.id) AS rank
            FROM public.agent_runs r
           WHERE r.workspace_id = free.wid AND r.status = 'queued' AND r.dispatched_at IS NULL
             AND (r.not_before IS NULL OR r.not_before <= clock_timestamp())
             AND NOT EXISTS (SELECT 1 FROM public.run_gates g
                              WHERE g.workspace_id = free.wid AND g.resource = 'integration:' || r.integration_id
                                AND g.until > clock_timestamp())
           ORDER BY r.created_at, r.id
           LIMIT LEAST(GREATEST(free.n, 0), v_room) -- no workspace gets more than the pass can give: a deep backlog is not scanned
        ) c
       WHERE free.n > 0
       ORDER BY c.rank, free.served, c.created_at, c.id
       LIMIT v_room
    ),
    picked AS (
      -- By primary key (= ANY of the picked ids): a join here let stale statistics after a burst choose a scan of the
      -- whole table (~90 ms a pass with 40 000 queued).
      UPDATE public.agent_runs r
         SET dispatched_at = clock_timestamp(), dispatch_seq = r.dispatch_seq + 1, updated_at = clock_timestamp()
       WHERE r.id = ANY (ARRAY(SELECT c.id FROM candidates c)) AND r.status = 'queued' AND r.dispatched_at IS NULL
      RETURNING r.id, r.workspace_id, r.dispatch_seq
    ),
    served AS (
      INSERT INTO public.workspace_fleet AS f (workspace_id, last_served)
      SELECT c.wid, v_clock + max(c.pick) FROM candidates c JOIN picked p ON p.id = c.id GROUP BY c.wid
      ON CONFLICT ON CONSTRAINT workspace_fleet_pkey DO UPDATE SET last_served = excluded.last_served
      RETURNING f.workspace_id
    )
    SELECT p.id, p.workspace_id, p.dispatch_seq, c.priority FROM picked p JOIN candidates c ON c.id = p.id;
END $$;

-- worker: give a held run back to the dispatcher for later (a retryable failure, or a throttled resource): queued,
-- lease cleared, due after p_delay_ms; steps kept for replay. A throttle (p_code set) does not count as an attempt and
-- counts a deferral instead (the worker fails a run throttled too many times with the throttle's code); with
-- p_gate_resource it also closes that resource of the workspace ('model', or 'integration': the run's) until then.
CREATE FUNCTION public.defer_run(p_run_id text, p_token uuid, p_delay_ms integer, p_gate_resource text DEFAULT NULL,
                                 p_code text DEFAULT NULL)
  RETURNS timestamptz
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_ws text := app.check_run_lease(p_run_id, p_token);
  v_until timestamptz := clock_timestamp() + make_interval(secs => LEAST(GREATEST(p_delay_ms, 0), 86400000) / 1000.0);
  v_integration text;
BEGIN
  IF p_gate_resource IS NOT NULL THEN
    IF p_gate_resource = 'integration' THEN
      SELECT r.integration_id INTO v_integration FROM public.agent_runs r WHERE r.id = p_run_id;
      IF v_integration IS NULL THEN
        RAISE EXCEPTION 'this run acts through no integration' USING ERRCODE = 'PXV01';
      END IF;
      p_gate_resource := 'integration:' || v_integration;
    ELSIF p_gate_resource <> 'model' THEN
      RAISE EXCEPTION 'a gate is on the model or the run''s integration' USING ERRCODE = 'PXV01';
    END IF;
    INSERT INTO public.run_gates AS g (workspace_id, resource, until, code)
    VALUES (v_ws, p_gate_resource, v_until, COALESCE(p_code, 'THROTTLED'))
    ON CONFLICT ON CONSTRAINT run_gates_pkey DO UPDATE
      SET until = GREATEST(g.until, excluded.until), code = excluded.code, updated_at = clock_timestamp();
  END IF;
  UPDATE public.agent_runs r
     SET status = 'queued', lease_token = NULL, lease_holder = NULL, lease_expires_at = NULL, dispatched_at = NULL,
         not_before = v_until,
         attempt = CASE WHEN p_code IS NOT NULL THEN GREATEST(r.attempt - 1, 0) ELSE r.attempt END,
         deferrals = r.deferrals + CASE WHEN p_code IS NOT NULL THEN 1 ELSE 0 END,
         updated_at = clock_timestamp()
   WHERE r.id = p_run_id;
  RETURN v_until;
END $$;

-- release_run (0015) now hands the run to the dispatcher as well.
CREATE OR REPLACE FUNCTION public.release_run(p_run_id text, p_token uuid) RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM app.check_run_lease(p_run_id, p_token);
  UPDATE public.agent_runs
     SET status = 'queued', lease_token = NULL, lease_holder = NULL, lease_expires_at = NULL, dispatched_at = NULL,
         updated_at = clock_timestamp()
   WHERE id = p_run_id;
END $$;

-- worker: end a run it holds, with what kind of failure it was (a redrive of a guard denial needs a new Skill
-- version). A cancelled run is finished `cancelled` under its own token even though its lease check answers
-- "cancelled"; its sealed step content is purged here too.
DROP FUNCTION public.finish_run(text, uuid, text, text);
CREATE FUNCTION public.finish_run(p_run_id text, p_token uuid, p_status text, p_error_code text DEFAULT NULL,
                                  p_failure_class text DEFAULT NULL)
  RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_run public.agent_runs%ROWTYPE;
BEGIN
  IF p_status NOT IN ('succeeded', 'failed', 'skipped', 'cancelled') THEN
    RAISE EXCEPTION 'a finished run is succeeded, failed, skipped or cancelled' USING ERRCODE = 'PXV01';
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

-- worker: the run's integration is gone for good (GitHub 404 on its installation token, Slack token revoked). Marks
-- the integration revoked and fails every other queued run through it once (INTEGRATION_GONE), so none cycles
-- through its attempts. Returns how many other runs it failed. The caller finishes its own run and audits.
CREATE FUNCTION public.mark_integration_gone(p_run_id text, p_token uuid) RETURNS integer
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_ws text := app.check_run_lease(p_run_id, p_token);
  v_integration text;
  v_n integer;
BEGIN
  SELECT r.integration_id INTO v_integration FROM public.agent_runs r WHERE r.id = p_run_id;
  IF v_integration IS NULL THEN
    RAISE EXCEPTION 'this run acts through no integration' USING ERRCODE = 'PXV01';
  END IF;
  UPDATE public.integrations i SET status = 'revoked', updated_at = clock_timestamp()
   WHERE i.workspace_id = v_ws AND i.id = v_integration AND i.status <> 'revoked';
  UPDATE public.agent_runs r
     SET status = 'failed', error_code = 'INTEGRATION_GONE', failure_class = 'integration_gone', dispatched_at = NULL,
         finished_at = clock_timestamp(), updated_at = clock_timestamp()
   WHERE r.workspace_id = v_ws AND r.integration_id = v_integration AND r.status = 'queued' AND r.id <> p_run_id;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n;
END $$;

-- api (in the caller's workspace scope): cancel runs by id. A queued run is cancelled at once; a running one is
-- marked, and its worker stops at the next step boundary (its lease check answers "cancelled") and finishes it
-- `cancelled` (`already_cancelling` if it was marked before); a finished run is left as it is and reported `finished`. Returns what it did to each, with what the
-- caller needs to audit (`run.cancelled`) and to remove a queued run's job.
CREATE FUNCTION public.cancel_runs(p_run_ids text[])
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
         SET status = CASE WHEN t.status = 'queued' THEN 'cancelled' ELSE r.status END,
             finished_at = CASE WHEN t.status = 'queued' THEN clock_timestamp() ELSE r.finished_at END,
             failure_class = CASE WHEN t.status = 'queued' THEN 'cancelled' ELSE r.failure_class END,
             dispatched_at = NULL,
             cancel_requested_at = COALESCE(r.cancel_requested_at, clock_timestamp()),
             updated_at = clock_timestamp()
        FROM target t
       WHERE r.id = t.id AND t.status IN ('queued', 'running')
      RETURNING r.id
    )
  SELECT t.id,
         CASE WHEN t.status = 'queued' THEN 'cancelled'
              WHEN t.status = 'running' AND t.cancel_requested_at IS NOT NULL THEN 'already_cancelling'
              WHEN t.status = 'running' THEN 'cancelling' ELSE 'finished' END,
         t.status, t.skill_id, t.trigger, v.manifest_hash, t.dispatch_seq
    FROM target t
    JOIN public.skill_versions v ON v.workspace_id = v_ws AND v.id = t.skill_version_id
    LEFT JOIN changed c ON c.id = t.id
   ORDER BY t.id;
END $$;

-- api (in scope): redrive failed runs. Each pair names a failed run and the id of its new run; the new run takes the
-- Skill's newest version subscribed to the trigger, the same input, trigger, source and integration, and
-- `retry_of` = the old run. Outcomes: retried; not_failed (only a failed run is redriven); already_retried (once per
-- run: retry its retry instead); needs_new_version (a guard refused it, and the Skill has no newer version: the same
-- version would be refused again; also when no version takes the trigger any more); skill_paused.
CREATE FUNCTION public.retry_runs(p_pairs jsonb)
  RETURNS TABLE (run_id text, outcome text, new_run_id text, skill_id text, trigger text, manifest_hash text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_ws text := app.current_workspace();
  v_pair jsonb;
  v_old public.agent_runs%ROWTYPE;
  v_skill record;
BEGIN
  IF v_ws IS NULL THEN
    RAISE EXCEPTION 'no workspace scope' USING ERRCODE = 'PXS01';
  END IF;
  IF p_pairs IS NULL OR jsonb_typeof(p_pairs) <> 'array' OR jsonb_array_length(p_pairs) > 1000 THEN
    RAISE EXCEPTION 'between 0 and 1000 runs at a time' USING ERRCODE = 'PXV01';
  END IF;
  FOR v_pair IN SELECT * FROM jsonb_array_elements(p_pairs) LOOP
    SELECT * INTO v_old FROM public.agent_runs r
     WHERE r.workspace_id = v_ws AND r.id = v_pair ->> 'run_id' FOR UPDATE;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'run not found' USING ERRCODE = 'PXN01';
    END IF;
    SELECT s.status, v.id AS version_id, v.manifest_hash INTO v_skill
      FROM public.skills s
      JOIN public.skill_versions v ON v.workspace_id = s.workspace_id AND v.skill_id = s.id
     WHERE s.workspace_id = v_ws AND s.id = v_old.skill_id AND v.manifest -> 'triggers' ? v_old.trigger
     ORDER BY v.version DESC
     LIMIT 1;
    IF v_old.status <> 'failed' THEN
      RETURN QUERY SELECT v_old.id, 'not_failed'::text, NULL::text, v_old.skill_id, v_old.trigger, NULL::text;
    ELSIF EXISTS (SELECT 1 FROM public.agent_runs x WHERE x.workspace_id = v_ws AND x.retry_of = v_old.id) THEN
      -- Checked under the old run's row lock: two redrives at once create one new run.
      RETURN QUERY SELECT v_old.id, 'already_retried'::text, NULL::text, v_old.skill_id, v_old.trigger, NULL::text;
    ELSIF NOT FOUND OR (v_old.failure_class = 'guard' AND v_skill.version_id = v_old.skill_version_id) THEN
      RETURN QUERY SELECT v_old.id, 'needs_new_version'::text, NULL::text, v_old.skill_id, v_old.trigger, NULL::text;
    ELSIF v_skill.status = 'paused' THEN
      RETURN QUERY SELECT v_old.id, 'skill_paused'::text, NULL::text, v_old.skill_id, v_old.trigger, NULL::text;
    ELSE
      INSERT INTO public.agent_runs (workspace_id, id, skill_id, skill_version_id, parent_run_id, trigger, source,
                                     input, status, integration_id, retry_of)
      VALUES (v_ws, v_pair ->> 'new_run_id', v_old.skill_id, v_skill.version_id, v_old.parent_run_id, v_old.trigger,
              v_old.source, v_old.input, 'queued', v_old.integration_id, v_old.id);
      RETURN QUERY SELECT v_old.id, 'retried'::text, v_pair ->> 'new_run_id', v_old.skill_id, v_old.trigger,
                          v_skill.manifest_hash;
    END IF;
  END LOOP;
END $$;

-- reconciler (monitor): dispatched runs whose job may be lost (dispatched longer ago than the grace period) and
-- running runs whose lease expired, oldest first. Undispatched runs are the dispatcher's, not stale.
DROP FUNCTION public.list_stale_runs(integer, integer);
CREATE FUNCTION public.list_stale_runs(p_queued_grace_seconds integer, p_limit integer)
  RETURNS TABLE (run_id text, workspace_id text, status text, not_before timestamptz, created_at timestamptz,
                 dispatch_seq integer)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT r.id, r.workspace_id, r.status, r.not_before, r.created_at, r.dispatch_seq
    FROM public.agent_runs r
   WHERE (r.status = 'queued' AND r.dispatched_at IS NOT NULL
          AND r.dispatched_at < clock_timestamp() - make_interval(secs => p_queued_grace_seconds))
      OR (r.status = 'running' AND r.lease_expires_at < clock_timestamp())
   ORDER BY r.created_at
   LIMIT LEAST(GREATEST(p_limit, 1), 10000)
$$;

-- reconciler (monitor): hand an expired lease's run back to the dispatcher. True if it did.
CREATE OR REPLACE FUNCTION public.hand_back_run(p_run_id text) RETURNS boolean
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE v_n integer;
BEGIN
  UPDATE public.agent_runs
     SET status = 'queued', lease_token = NULL, lease_holder = NULL, lease_expires_at = NULL, dispatched_at = NULL,
         updated_at = clock_timestamp()
   WHERE id = p_run_id AND status = 'running' AND lease_expires_at < clock_timestamp();
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n = 1;
END $$;

-- reconciler (monitor): a dispatched run whose job finished or failed without the run finishing (a worker crashed
-- between them) goes back to the dispatcher, which adds a job under a new id. Only for the dispatch it names.
CREATE FUNCTION public.undispatch_run(p_run_id text, p_dispatch_seq integer) RETURNS boolean
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE v_n integer;
BEGIN
  UPDATE public.agent_runs
     SET dispatched_at = NULL, updated_at = clock_timestamp()
   WHERE id = p_run_id AND status = 'queued' AND dispatched_at IS NOT NULL AND dispatch_seq = p_dispatch_seq;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n = 1;
END $$;

-- ingest: as in 0020, and each new queued run due now is dispatched on the spot (its job added by ingest after the
-- commit, as before) when its workspace is under its cap and the fleet's look-ahead has room — an idle fleet starts a
-- run as fast as it did without a dispatcher — or when its workspace has nothing in flight at all (the first it would
-- serve anyway). Otherwise it waits for the dispatcher's fair order.
DROP FUNCTION public.ingest_create_runs(text, text, text, text, text, jsonb, jsonb, timestamptz, text);
CREATE FUNCTION public.ingest_create_runs(
    p_source text, p_delivery_id text, p_body_sha256 text, p_workspace_id text, p_trigger text,
    p_input jsonb, p_runs jsonb, p_not_before timestamptz DEFAULT NULL, p_integration_id text DEFAULT NULL)
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
                                   input, status, skip_reason, not_before, integration_id, dispatched_at, dispatch_seq)
    VALUES (p_workspace_id, v_run ->> 'run_id', v_skill.skill_id, v_skill.version_id, p_trigger, p_source,
            p_delivery_id, COALESCE(p_input, '{}'::jsonb),
            CASE WHEN v_skill.status = 'paused' THEN 'skipped' ELSE 'queued' END,
            CASE WHEN v_skill.status = 'paused' THEN 'skill_paused' END,
            p_not_before, p_integration_id,
            CASE WHEN v_dispatch THEN clock_timestamp() END,
            CASE WHEN v_dispatch THEN 1 ELSE 0 END);
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

-- operator (praxa_owner members, through the CLI): the fleet's defaults and a workspace's cap.
CREATE FUNCTION public.admin_set_fleet_settings(p_default_workspace_concurrency integer, p_dispatch_ahead integer)
  RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  UPDATE public.fleet_settings
     SET default_workspace_concurrency = COALESCE(p_default_workspace_concurrency, default_workspace_concurrency),
         dispatch_ahead = COALESCE(p_dispatch_ahead, dispatch_ahead), updated_at = clock_timestamp();
END $$;

CREATE FUNCTION public.admin_set_workspace_cap(p_workspace_id text, p_max_concurrency integer) RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM public.workspaces w WHERE w.id = p_workspace_id) THEN
    RAISE EXCEPTION 'workspace not found' USING ERRCODE = 'PXN01';
  END IF;
  INSERT INTO public.workspace_fleet AS f (workspace_id, max_concurrency)
  VALUES (p_workspace_id, p_max_concurrency)
  ON CONFLICT (workspace_id) DO UPDATE SET max_concurrency = excluded.max_concurrency, updated_at = clock_timestamp();
END $$;

-- monitor: what the fleet holds now, per state, for its gauges (no workspace id leaves this function).
CREATE FUNCTION public.fleet_queue_depth()
  RETURNS TABLE (undispatched bigint, dispatched bigint, running bigint, gated_workspaces bigint)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT (SELECT count(*) FROM public.agent_runs r WHERE r.status = 'queued' AND r.dispatched_at IS NULL),
         (SELECT count(*) FROM public.agent_runs r WHERE r.status = 'queued' AND r.dispatched_at IS NOT NULL),
         (SELECT count(*) FROM public.agent_runs r WHERE r.status = 'running'),
         (SELECT count(DISTINCT g.workspace_id) FROM public.run_gates g WHERE g.until > clock_timestamp())
$$;

DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN
    SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
      JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     WHERE p.prosecdef AND n.nspname IN ('public', 'app')
       AND p.proname IN ('workspace_cap', 'run_gate_until', 'claim_run', 'dispatch_runs', 'defer_run', 'finish_run',
                         'mark_integration_gone', 'cancel_runs', 'retry_runs', 'list_stale_runs', 'undispatch_run',
                         'ingest_create_runs', 'admin_set_fleet_settings', 'admin_set_workspace_cap',
                         'fleet_queue_depth')
  LOOP
    EXECUTE pg_catalog.format('ALTER FUNCTION %s OWNER TO praxa_definer', f);
    EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
END $$;

GRANT EXECUTE ON FUNCTION public.claim_run(text, text, integer) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.dispatch_runs(integer) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.defer_run(text, uuid, integer, text, text) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.finish_run(text, uuid, text, text, text) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.mark_integration_gone(text, uuid) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.cancel_runs(text[]) TO praxa_api;
GRANT EXECUTE ON FUNCTION public.retry_runs(jsonb) TO praxa_api;
GRANT EXECUTE ON FUNCTION public.list_stale_runs(integer, integer) TO praxa_monitor;
GRANT EXECUTE ON FUNCTION public.undispatch_run(text, integer) TO praxa_monitor;
GRANT EXECUTE ON FUNCTION public.fleet_queue_depth() TO praxa_monitor;
GRANT EXECUTE ON FUNCTION public.ingest_create_runs(text, text, text, text, text, jsonb, jsonb, timestamptz, text) TO praxa_ingest;
GRANT EXECUTE ON FUNCTION public.admin_set_fleet_settings(integer, integer) TO praxa_owner;
GRANT EXECUTE ON FUNCTION public.admin_set_workspace_cap(text, integer) TO praxa_owner;
-- app.workspace_cap and app.run_gate_until are called only from inside the definer functions above.
