-- Replay for every Skill (issue #21, item 6): a replay re-reads a decision's inputs as the bot, which needs the
-- workspace's sealed bot token — and the api must never open the vault. So a replay is a request row the api (or the
-- operator CLI) records, audited as who asked, and a worker runs it under a lease of its own:
--  * audit_replays: the request (the event, who asked), its lease, and the report the worker stores (ids, hashes,
--    field names and codes only — never an input's value). The api may insert a request (its own columns) and read;
--    it can neither set a status nor write a report. The worker has no grant at all: only the functions below.
--  * replay_claim: claim a queued request by id (the workspace and the event's signed bytes come from the rows, never
--    from the job), with a fencing token.
--  * replay_slack_secret / replay_workspace_keys: under the lease, the sealed bot token of the Slack team the replayed
--    run came through (its row's integration — or, for a run that recorded none, the workspace's one active Slack
--    team), and the key material to open it. No other secret: a replay opens nothing else.
--  * replay_finish: store the report (or the error code) under the lease and release it.
--  * monitor_open_replays: the request row is the outbox; the monitor's reconciler enqueues what was lost.
SET LOCAL ROLE praxa_owner;

CREATE TABLE audit_replays (
  workspace_id        text NOT NULL,
  id                  text PRIMARY KEY CHECK (app.is_typeid(id, 'rp')),
  -- No foreign key to audit_events: retention may cut the event, the report stays (it names the event by id).
  event_id            text NOT NULL CHECK (app.is_typeid(event_id, 'ae')),
  -- Who asked: a member and the token they used; both null for the operator CLI.
  requested_by_member text CHECK (requested_by_member IS NULL OR app.is_typeid(requested_by_member, 'mb')),
  requested_by_token  text CHECK (requested_by_token IS NULL OR app.is_typeid(requested_by_token, 'tk')),
  status              text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
  attempts            integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  lease_token         uuid,
  lease_holder        text,
  lease_expires_at    timestamptz,
  outcome             text CHECK (outcome IN ('reproduced', 'changed', 'unavailable', 'differs')),
  report              jsonb CHECK (report IS NULL OR (jsonb_typeof(report) = 'object' AND octet_length(report::text) <= 262144)),
  error_code          text CHECK (error_code ~ '^[A-Z][A-Z0-9_]{1,63}$'),
  created_at          timestamptz NOT NULL DEFAULT now(),
  finished_at         timestamptz,
  UNIQUE (workspace_id, id),
  FOREIGN KEY (workspace_id) REFERENCES workspaces (id),
  CHECK ((status = 'running') = (lease_token IS NOT NULL)),
  CHECK ((status = 'done') = (report IS NOT NULL AND outcome IS NOT NULL))
);
CREATE INDEX audit_replays_open_idx ON audit_replays (status, created_at) WHERE status IN ('queued', 'running');
SELECT app.enable_tenant_rls('audit_replays');

GRANT SELECT ON audit_replays TO praxa_api;
GRANT INSERT (workspace_id, id, event_id, requested_by_member, requested_by_token) ON audit_replays TO praxa_api;
GRANT SELECT, UPDATE ON audit_replays TO praxa_definer;

RESET ROLE;

-- The replay lease check, shared by the worker's functions below: the request is running, in the caller's workspace
-- scope, with this token, and the lease is not past now(). Returns the workspace and the replayed run.
CREATE FUNCTION app.check_replay_lease(p_id text, p_token uuid, OUT ws text, OUT run_id text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_status text;
  v_token uuid;
  v_expires timestamptz;
  v_event text;
BEGIN
  SELECT r.workspace_id, r.event_id, r.status, r.lease_token, r.lease_expires_at
    INTO ws, v_event, v_status, v_token, v_expires
    FROM public.audit_replays r WHERE r.id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'replay not found' USING ERRCODE = 'PXN01';
  END IF;
  IF ws IS DISTINCT FROM app.current_workspace() THEN
    RAISE EXCEPTION 'the replay is not in the workspace of this scope' USING ERRCODE = 'PXS01';
  END IF;
  IF v_status <> 'running' OR v_token IS DISTINCT FROM p_token OR v_expires <= clock_timestamp() THEN
    RAISE EXCEPTION 'lease lost' USING ERRCODE = 'PXL01';
  END IF;
  -- The run is the signed record's, read from the stored bytes — never an argument.
  SELECT convert_from(e.canonical, 'UTF8')::jsonb ->> 'runId' INTO run_id
    FROM public.audit_events e WHERE e.workspace_id = ws AND e.id = v_event;
END $$;

-- Claim a replay request by id: a queued one, or one whose lease expired (at most 3 attempts). The workspace, the
-- event and its signed bytes come from the rows. No row: not claimable (done, failed, held, or out of attempts).
CREATE FUNCTION public.replay_claim(p_id text, p_holder text, p_lease_seconds integer DEFAULT 120)
  RETURNS TABLE (workspace_id text, event_id text, canonical bytea, attempts integer, lease_token uuid,
                 lease_expires_at timestamptz)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
  IF p_lease_seconds IS NULL OR p_lease_seconds < 5 OR p_lease_seconds > 600 THEN
    RAISE EXCEPTION 'lease must be between 5 and 600 seconds' USING ERRCODE = 'PXV01';
  END IF;
  RETURN QUERY
    WITH claimed AS (
      UPDATE public.audit_replays r
         SET status = 'running', attempts = r.attempts + 1, lease_token = gen_random_uuid(), lease_holder = p_holder,
             lease_expires_at = clock_timestamp() + make_interval(secs => p_lease_seconds)
       WHERE r.id = p_id AND r.attempts < 3
         AND (r.status = 'queued' OR (r.status = 'running' AND r.lease_expires_at < clock_timestamp()))
      RETURNING r.workspace_id, r.event_id, r.attempts, r.lease_token, r.lease_expires_at)
    SELECT c.workspace_id, c.event_id, e.canonical, c.attempts, c.lease_token, c.lease_expires_at
      FROM claimed c
      LEFT JOIN public.audit_events e ON e.workspace_id = c.workspace_id AND e.id = c.event_id;
END $$;

-- Under the lease: the sealed bot token of Slack team p_team_id, only if it is the team the replayed run came through
-- (its row's integration), or — for a run that recorded no integration — the workspace's one active Slack team.
-- No row otherwise. Never refreshed here: a rotating token past its expiry is reported, not renewed.
CREATE FUNCTION public.replay_slack_secret(p_id text, p_token uuid, p_team_id text)
  RETURNS TABLE (ciphertext bytea, key_id text, provider text, purpose text, expires_at timestamptz)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  l record;
  v_integration text;
  v_team text;
BEGIN
  SELECT * INTO l FROM app.check_replay_lease(p_id, p_token);
  SELECT r.integration_id INTO v_integration FROM public.agent_runs r WHERE r.workspace_id = l.ws AND r.id = l.run_id;
  IF v_integration IS NOT NULL THEN
    SELECT i.external_id INTO v_team FROM public.integrations i
     WHERE i.workspace_id = l.ws AND i.id = v_integration AND i.provider = 'slack' AND i.status = 'active';
  ELSIF (SELECT count(*) FROM public.integrations i
          WHERE i.workspace_id = l.ws AND i.provider = 'slack' AND i.status = 'active') = 1 THEN
    SELECT i.external_id INTO v_team FROM public.integrations i
     WHERE i.workspace_id = l.ws AND i.provider = 'slack' AND i.status = 'active';
  END IF;
  IF v_team IS NULL OR lower(v_team) <> lower(p_team_id) THEN
    RETURN;
  END IF;
  RETURN QUERY SELECT s.ciphertext, s.key_id, s.provider, s.purpose, s.expires_at
                 FROM vault.secrets s WHERE s.workspace_id = l.ws AND s.name = 'slack/bot/' || lower(v_team);
END $$;

-- The workspace's key material to open that secret with, under the same lease (cf. workspace_keys_for_run).
CREATE FUNCTION public.replay_workspace_keys(p_id text, p_token uuid)
  RETURNS TABLE (key_id text, status text, public_key bytea, wrapped_private_key bytea, tenant_id text, tenant_key_id text,
                 tenant_wrapped_key bytea, kms_key_ref text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE l record;
BEGIN
  SELECT * INTO l FROM app.check_replay_lease(p_id, p_token);
  RETURN QUERY
    SELECT k.key_id, k.status, k.public_key, k.wrapped_private_key, t.tenant_id, t.key_id, t.wrapped_key, t.kms_key_ref
      FROM public.workspace_keys k JOIN public.tenant_keys t ON t.key_id = k.tenant_key_id
     WHERE k.workspace_id = l.ws AND k.status <> 'destroyed'
     ORDER BY k.created_at DESC;
END $$;

-- Store the outcome under the lease and release it: done (with the report) or failed (with an error code).
CREATE FUNCTION public.replay_finish(p_id text, p_token uuid, p_status text, p_outcome text, p_report jsonb,
                                     p_error_code text)
  RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_status NOT IN ('done', 'failed', 'queued') THEN
    RAISE EXCEPTION 'a replay finishes done, failed or queued (given back)' USING ERRCODE = 'PXV01';
  END IF;
  PERFORM app.check_replay_lease(p_id, p_token);
  UPDATE public.audit_replays
     SET status = p_status,
         outcome = CASE WHEN p_status = 'done' THEN p_outcome END,
         report = CASE WHEN p_status = 'done' THEN p_report END,
         error_code = CASE WHEN p_status = 'done' THEN NULL ELSE p_error_code END,
         finished_at = CASE WHEN p_status = 'queued' THEN NULL ELSE clock_timestamp() END,
         lease_token = NULL, lease_holder = NULL, lease_expires_at = NULL
   WHERE id = p_id;
END $$;

-- The replay requests' outbox reconciler (the monitor, with the run and notification reconcilers): queued requests older
-- than the grace period (their job lost between the commit and the enqueue) and running ones whose lease expired (a
-- dead worker) are handed back to be enqueued again; a running one past its last attempt is marked failed.
CREATE FUNCTION public.monitor_open_replays(p_grace_seconds integer, p_limit integer)
  RETURNS TABLE (replay_id text, workspace_id text, status text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
  UPDATE public.audit_replays r
     SET status = 'failed', error_code = 'REPLAY_ATTEMPTS_EXHAUSTED', finished_at = clock_timestamp(),
         lease_token = NULL, lease_holder = NULL, lease_expires_at = NULL
   WHERE r.status = 'running' AND r.lease_expires_at < clock_timestamp() AND r.attempts >= 3;
  RETURN QUERY
    SELECT r.id, r.workspace_id, r.status FROM public.audit_replays r
     WHERE (r.status = 'queued' AND r.created_at < clock_timestamp() - make_interval(secs => p_grace_seconds))
        OR (r.status = 'running' AND r.lease_expires_at < clock_timestamp())
     ORDER BY r.created_at
     LIMIT LEAST(GREATEST(p_limit, 1), 10000);
END $$;

ALTER FUNCTION app.check_replay_lease(text, uuid) OWNER TO praxa_definer;
ALTER FUNCTION public.monitor_open_replays(integer, integer) OWNER TO praxa_definer;
REVOKE ALL ON FUNCTION public.monitor_open_replays(integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.monitor_open_replays(integer, integer) TO praxa_monitor;
ALTER FUNCTION public.replay_claim(text, text, integer) OWNER TO praxa_definer;
ALTER FUNCTION public.replay_slack_secret(text, uuid, text) OWNER TO praxa_definer;
ALTER FUNCTION public.replay_workspace_keys(text, uuid) OWNER TO praxa_definer;
ALTER FUNCTION public.replay_finish(text, uuid, text, text, jsonb, text) OWNER TO praxa_definer;
REVOKE ALL ON FUNCTION app.check_replay_lease(text, uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.replay_claim(text, text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.replay_slack_secret(text, uuid, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.replay_workspace_keys(text, uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.replay_finish(text, uuid, text, text, jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.replay_claim(text, text, integer) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.replay_slack_secret(text, uuid, text) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.replay_workspace_keys(text, uuid) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.replay_finish(text, uuid, text, text, jsonb, text) TO praxa_worker;
