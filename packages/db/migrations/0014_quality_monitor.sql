-- The quality monitor (issue #10): feedback on Skill actions, the rolling acceptance rate per Skill, self-pause in one
-- transaction, notification channels and notifications delivered by a worker under a lease, and a resume that only a
-- human admin, through the api, can make — enforced here, in the database.
--
-- Feedback → rate, in SQL:
--   * skill_feedback keeps every verdict (source, actor, bot or not);
--   * a trigger folds each human verdict into skill_action_verdicts: one row per action (run) holding the latest
--     verdict of each human (`votes`, keyed source:actor) — bots' verdicts are kept in skill_feedback and never folded;
--   * an action is accepted when its accepted votes outnumber its rejected ones (a tie counts as rejected);
--   * the rate is accepted / decided over the Skill's last `window` decided actions (by the time of their first vote);
--   * skill_acceptance holds each Skill's current figures and a dirty flag the monitor's pass works from;
--     skill_acceptance_samples keeps every change of the figures, for charts.
SET LOCAL ROLE praxa_owner;

-- Feedback names a run together with its own Skill: (workspace, run, skill) must be an existing run's.
ALTER TABLE agent_runs ADD CONSTRAINT agent_runs_workspace_run_skill_key UNIQUE (workspace_id, id, skill_id);
-- `/praxa accept|reject` on a PR maps to the PR's latest run triggered by a pull_request event.
CREATE INDEX agent_runs_pull_request_idx ON agent_runs (workspace_id, (input ->> 'repo'), (input ->> 'prNumber'), created_at DESC)
  WHERE trigger LIKE 'github.pull_request.%';

-- No login role may update or delete feedback (no grant); a run's feedback goes with the run (retention, erasure).
CREATE TABLE skill_feedback (
  workspace_id  text NOT NULL,
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id        text NOT NULL,
  skill_id      text NOT NULL,
  verdict       text NOT NULL CHECK (verdict IN ('accepted', 'rejected')),
  source        text NOT NULL CHECK (source IN ('slack', 'github', 'api')),
  -- Slack user id, GitHub user id, or workspace member id: who, never what they wrote.
  actor_id      text NOT NULL CHECK (actor_id ~ '^[A-Za-z0-9_.-]{1,64}$'),
  actor_is_bot  boolean NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (workspace_id, run_id, skill_id) REFERENCES agent_runs (workspace_id, id, skill_id) ON DELETE CASCADE
);
CREATE INDEX skill_feedback_run_idx ON skill_feedback (workspace_id, run_id, id);
SELECT app.enable_tenant_rls('skill_feedback');

CREATE TABLE skill_action_verdicts (
  workspace_id    text NOT NULL,
  run_id          text PRIMARY KEY,
  skill_id        text NOT NULL,
  votes           jsonb NOT NULL CHECK (jsonb_typeof(votes) = 'object'),
  accepted_votes  integer NOT NULL CHECK (accepted_votes >= 0),
  rejected_votes  integer NOT NULL CHECK (rejected_votes >= 0),
  decided_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL,
  CHECK (accepted_votes + rejected_votes >= 1),
  FOREIGN KEY (workspace_id, run_id, skill_id) REFERENCES agent_runs (workspace_id, id, skill_id) ON DELETE CASCADE
);
CREATE INDEX skill_action_verdicts_window_idx ON skill_action_verdicts (skill_id, decided_at DESC, run_id DESC) INCLUDE (accepted_votes, rejected_votes);
SELECT app.enable_tenant_rls('skill_action_verdicts');

CREATE TABLE skill_acceptance (
  workspace_id  text NOT NULL,
  skill_id      text PRIMARY KEY,
  dirty         boolean NOT NULL DEFAULT true,
  decided       integer NOT NULL DEFAULT 0 CHECK (decided >= 0),
  accepted      integer NOT NULL DEFAULT 0 CHECK (accepted >= 0 AND accepted <= decided),
  rate          numeric(6, 5) CHECK (rate BETWEEN 0 AND 1),
  threshold     numeric(6, 5),
  window_size   integer,
  min_samples   integer,
  changed_at    timestamptz NOT NULL DEFAULT now(),
  evaluated_at  timestamptz,
  FOREIGN KEY (workspace_id, skill_id) REFERENCES skills (workspace_id, id)
);
CREATE INDEX skill_acceptance_dirty_idx ON skill_acceptance (changed_at) WHERE dirty;
SELECT app.enable_tenant_rls('skill_acceptance');

CREATE TABLE skill_acceptance_samples (
  workspace_id  text NOT NULL,
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  skill_id      text NOT NULL,
  decided       integer NOT NULL CHECK (decided >= 1),
  accepted      integer NOT NULL CHECK (accepted >= 0 AND accepted <= decided),
  rate          numeric(6, 5) NOT NULL CHECK (rate BETWEEN 0 AND 1),
  threshold     numeric(6, 5),
  window_size   integer,
  sampled_at    timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (workspace_id, skill_id) REFERENCES skills (workspace_id, id)
);
CREATE INDEX skill_acceptance_samples_skill_idx ON skill_acceptance_samples (workspace_id, skill_id, sampled_at);
SELECT app.enable_tenant_rls('skill_acceptance_samples');

-- Each pause of a Skill, why, by whom, and how it ended. `incident_key` is the PagerDuty dedup_key of this pause:
-- the same for its trigger (and every retry of it) and its resolve.
CREATE TABLE skill_pauses (
  workspace_id   text NOT NULL,
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  skill_id       text NOT NULL,
  cause          text NOT NULL CHECK (cause IN ('acceptance', 'manual')),
  reason         text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
  rate           numeric(6, 5),
  threshold      numeric(6, 5),
  decided        integer,
  accepted       integer,
  paused_by      text NOT NULL,
  paused_at      timestamptz NOT NULL DEFAULT now(),
  incident_key   text NOT NULL UNIQUE CHECK (incident_key ~ '^praxa/sk_[0-9a-z]{26}/[0-9a-f-]{36}$'),
  resumed_at     timestamptz,
  resumed_by     text,
  resume_reason  text CHECK (length(resume_reason) BETWEEN 1 AND 500),
  UNIQUE (workspace_id, id),
  FOREIGN KEY (workspace_id, skill_id) REFERENCES skills (workspace_id, id),
  CHECK ((resumed_at IS NULL) = (resumed_by IS NULL))
);
-- At most one open pause per Skill: a second, concurrent pause collides here even if everything else failed.
CREATE UNIQUE INDEX skill_pauses_one_open ON skill_pauses (skill_id) WHERE resumed_at IS NULL;
SELECT app.enable_tenant_rls('skill_pauses');

-- Where a workspace is told: a Slack channel (posted as the workspace's Slack bot), an email address (over the
-- platform's SMTP relay), a PagerDuty service (Events API v2; its routing key sealed to the workspace key in the vault).
CREATE TABLE notification_channels (
  workspace_id    text NOT NULL REFERENCES workspaces(id),
  id              text PRIMARY KEY CHECK (app.is_typeid(id, 'nc')),
  kind            text NOT NULL CHECK (kind IN ('slack', 'email', 'pagerduty')),
  target          text NOT NULL CHECK (length(target) BETWEEN 1 AND 320),
  integration_id  text,
  vault_name      text,
  fingerprint     text CHECK (length(fingerprint) = 4),
  created_by      text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  disabled_at     timestamptz,
  UNIQUE (workspace_id, id),
  FOREIGN KEY (workspace_id, created_by) REFERENCES workspace_members (workspace_id, id),
  FOREIGN KEY (workspace_id, integration_id) REFERENCES integrations (workspace_id, id),
  CHECK (kind <> 'slack' OR (target ~ '^[CG][A-Z0-9]{2,30}$' AND integration_id IS NOT NULL)),
  CHECK (kind <> 'email' OR target ~ '^[^@\s]{1,64}@[^@\s]{1,255}$'),
  CHECK ((kind = 'pagerduty') = (vault_name IS NOT NULL))
);
SELECT app.enable_tenant_rls('notification_channels');

-- One row per channel per pause event; a worker claims it under a lease (like a run) and records the outcome.
CREATE TABLE notifications (
  workspace_id      text NOT NULL,
  id                text PRIMARY KEY CHECK (app.is_typeid(id, 'nt')),
  channel_id        text NOT NULL,
  skill_id          text NOT NULL,
  pause_id          bigint NOT NULL,
  event             text NOT NULL CHECK (event IN ('skill.paused', 'skill.resumed')),
  kind              text NOT NULL CHECK (kind IN ('slack', 'email', 'pagerduty')),
  status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'delivered', 'failed')),
  attempts          integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  lease_token       uuid,
  lease_holder      text,
  lease_expires_at  timestamptz,
  last_error_code   text CHECK (last_error_code ~ '^[A-Z][A-Z0-9_]{1,63}$'),
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  delivered_at      timestamptz,
  UNIQUE (workspace_id, id),
  UNIQUE (pause_id, channel_id, event),
  FOREIGN KEY (workspace_id, channel_id) REFERENCES notification_channels (workspace_id, id),
  FOREIGN KEY (workspace_id, pause_id) REFERENCES skill_pauses (workspace_id, id),
  FOREIGN KEY (workspace_id, skill_id) REFERENCES skills (workspace_id, id),
  CHECK ((status = 'sending') = (lease_token IS NOT NULL))
);
CREATE INDEX notifications_open_idx ON notifications (status, updated_at) WHERE status IN ('pending', 'sending');
SELECT app.enable_tenant_rls('notifications');

-- Grants. Writes that cross tenants, hold a lease or change a Skill's status go through the definer functions below.
GRANT SELECT, INSERT ON skill_feedback TO praxa_api;
GRANT SELECT ON skill_acceptance, skill_acceptance_samples, skill_pauses, notifications TO praxa_api;
GRANT SELECT, INSERT ON notification_channels TO praxa_api;
GRANT UPDATE (disabled_at) ON notification_channels TO praxa_api;

GRANT SELECT, INSERT ON skill_feedback TO praxa_definer;
GRANT SELECT, INSERT, UPDATE ON skill_action_verdicts, skill_acceptance TO praxa_definer;
GRANT SELECT, INSERT ON skill_acceptance_samples TO praxa_definer;
GRANT SELECT, INSERT, UPDATE ON skill_pauses, notifications TO praxa_definer;
GRANT SELECT ON notification_channels TO praxa_definer;
-- The only role that may change a Skill's status; the trigger below narrows who may move it from paused to active.
GRANT UPDATE (status, paused_reason, paused_at, paused_by, updated_at) ON skills TO praxa_definer;
RESET ROLE;

-- ── helpers (not executable by any login role) ──────────────────────────────────────────────────────────────────

-- A TypeID minted in SQL: prefix, '_', a UUIDv7 (48-bit millisecond time, version 7, variant 10, random rest) in
-- lower-case Crockford base32 — the 128 bits right-aligned in 130, as the TypeID spec (and typeid-js) encode them.
CREATE FUNCTION app.new_typeid(p_prefix text) RETURNS text
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  alphabet constant text := '0123456789abcdefghjkmnpqrstvwxyz';
  ms bigint := floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint;
  -- 6 bytes of time, then 10 random bytes taken from a random UUID.
  b bytea := decode(lpad(to_hex(ms), 12, '0') || substr(replace(gen_random_uuid()::text, '-', ''), 1, 20), 'hex');
  out text := '';
  v integer;
  pos integer;
BEGIN
  b := set_byte(b, 6, (get_byte(b, 6) & 15) | 112);   -- version 7
  b := set_byte(b, 8, (get_byte(b, 8) & 63) | 128);   -- variant 10
  -- 130-bit big-endian number, the top two bits zero: char 0 holds bits 0..2 of the uuid, each next char 5 bits.
  FOR i IN 0..25 LOOP
    v := 0;
    FOR j IN 0..4 LOOP
      pos := i * 5 + j - 2;   -- the bit's index in the uuid, most significant first; negative: padding
      v := v * 2 + CASE WHEN pos >= 0 THEN get_bit(b, (pos / 8) * 8 + (7 - pos % 8)) ELSE 0 END;
    END LOOP;
    out := out || substr(alphabet, v + 1, 1);
  END LOOP;
  RETURN p_prefix || '_' || out;
END $$;
ALTER FUNCTION app.new_typeid(text) OWNER TO praxa_owner;
REVOKE ALL ON FUNCTION app.new_typeid(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.new_typeid(text) TO praxa_definer;

-- The rolling figures of some Skills, computed from skill_action_verdicts: the window, threshold and minimum of each
-- Skill's newest manifest; its last `window` decided actions; how many of them were accepted. Invoker rights: it runs
-- inside the definer functions (and the bench, as the admin).
CREATE FUNCTION app.acceptance_for(p_skill_ids text[])
  RETURNS TABLE (workspace_id text, skill_id text, status text, window_size integer, threshold numeric, min_samples integer,
                 decided integer, accepted integer, notify text[])
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT s.workspace_id, s.id, s.status, m.window_size, m.threshold, m.min_samples,
         COALESCE(w.decided, 0)::integer, COALESCE(w.accepted, 0)::integer, m.notify
    FROM public.skills s
    CROSS JOIN LATERAL (
      SELECT (v.manifest #>> '{acceptance,window}')::integer AS window_size,
             (v.manifest #>> '{acceptance,threshold}')::numeric AS threshold,
             (v.manifest #>> '{acceptance,minSamples}')::integer AS min_samples,
             ARRAY(SELECT jsonb_array_elements_text(COALESCE(v.manifest -> 'notify', '[]'::jsonb))) AS notify
        FROM public.skill_versions v
       WHERE v.workspace_id = s.workspace_id AND v.skill_id = s.id
       ORDER BY v.version DESC
       LIMIT 1) m
    LEFT JOIN LATERAL (
      SELECT count(*) AS decided, count(*) FILTER (WHERE a.accepted_votes > a.rejected_votes) AS accepted
        FROM (SELECT x.accepted_votes, x.rejected_votes
                FROM public.skill_action_verdicts x
               WHERE x.skill_id = s.id
               ORDER BY x.decided_at DESC, x.run_id DESC
               LIMIT GREATEST(COALESCE(m.window_size, 1), 1)) a) w ON true
   WHERE s.id = ANY (p_skill_ids)
$$;
ALTER FUNCTION app.acceptance_for(text[]) OWNER TO praxa_owner;
REVOKE ALL ON FUNCTION app.acceptance_for(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.acceptance_for(text[]) TO praxa_definer;

-- Fold a human's verdict into its action's row (the latest verdict of each human counts) and mark the Skill's figures
-- stale. SECURITY DEFINER, so the api — which may insert feedback — holds no write grant on the folded tables. The
-- upsert locks the action's row: concurrent verdicts on one action are applied one after the other.
CREATE FUNCTION app.fold_feedback() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_key text := NEW.source || ':' || NEW.actor_id;
  v_now timestamptz := clock_timestamp();
BEGIN
  IF NEW.actor_is_bot THEN
    RETURN NULL;
  END IF;
  INSERT INTO public.skill_action_verdicts AS a (workspace_id, run_id, skill_id, votes, accepted_votes, rejected_votes, decided_at, updated_at)
  VALUES (NEW.workspace_id, NEW.run_id, NEW.skill_id, jsonb_build_object(v_key, NEW.verdict),
          (NEW.verdict = 'accepted')::integer, (NEW.verdict = 'rejected')::integer, v_now, v_now)
  ON CONFLICT (run_id) DO UPDATE
     SET votes = a.votes || EXCLUDED.votes,
         accepted_votes = (SELECT count(*) FROM jsonb_each_text(a.votes || EXCLUDED.votes) e WHERE e.value = 'accepted'),
         rejected_votes = (SELECT count(*) FROM jsonb_each_text(a.votes || EXCLUDED.votes) e WHERE e.value = 'rejected'),
         updated_at = EXCLUDED.updated_at;
  INSERT INTO public.skill_acceptance AS q (workspace_id, skill_id, dirty, changed_at)
  VALUES (NEW.workspace_id, NEW.skill_id, true, v_now)
  ON CONFLICT (skill_id) DO UPDATE SET dirty = true, changed_at = EXCLUDED.changed_at;
  RETURN NULL;
END $$;
CREATE TRIGGER skill_feedback_fold AFTER INSERT ON skill_feedback FOR EACH ROW EXECUTE FUNCTION app.fold_feedback();

-- Only a human admin resumes a Skill, through the api: moving a Skill from paused to active is refused unless the
-- transaction is api_resume_skill's (session of praxa_api, running as praxa_definer, the resume marker set for this
-- Skill). No login role holds UPDATE on skills.status at all; this also binds the owner and every other definer
-- function. A superuser is outside the model (it could disable the trigger) and is let through.
CREATE FUNCTION app.skills_guard_resume() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF OLD.status = 'paused' AND NEW.status = 'active' THEN
    IF (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) THEN
      RETURN NEW;
    END IF;
    IF session_user::text = 'praxa_api' AND current_user::text = 'praxa_definer'
       AND pg_catalog.current_setting('app.resume_skill', true) IS NOT DISTINCT FROM NEW.id THEN
      RETURN NEW;
    END IF;
    RAISE EXCEPTION 'only a human admin resumes a paused Skill, through the api' USING ERRCODE = '42501';
  END IF;
  RETURN NEW;
END $$;
ALTER FUNCTION app.skills_guard_resume() OWNER TO praxa_owner;
REVOKE ALL ON FUNCTION app.skills_guard_resume() FROM PUBLIC;
CREATE TRIGGER skills_guard_resume BEFORE UPDATE OF status ON skills FOR EACH ROW EXECUTE FUNCTION app.skills_guard_resume();

-- The token that asks for a pause or resume, re-checked here from its secret's hash (the api cannot act for a member
-- without that member's token): live, of the scope's workspace, its member an owner or admin, and human if required.
CREATE FUNCTION app.check_admin_token(p_token_id text, p_secret_sha256 text, p_require_human boolean) RETURNS text
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_ws text := app.current_workspace();
  v_member text;
  v_role text;
  v_kind text;
BEGIN
  IF v_ws IS NULL THEN
    RAISE EXCEPTION 'this needs a workspace scope' USING ERRCODE = 'PXS01';
  END IF;
  SELECT t.member_id, m.role, t.kind INTO v_member, v_role, v_kind
    FROM public.api_tokens t
    JOIN public.workspace_members m ON m.workspace_id = t.workspace_id AND m.id = t.member_id
   WHERE t.workspace_id = v_ws AND t.id = p_token_id AND t.secret_sha256 = p_secret_sha256
     AND t.revoked_at IS NULL AND t.expires_at > clock_timestamp();
  IF NOT FOUND OR v_role NOT IN ('owner', 'admin') OR (p_require_human AND v_kind <> 'human') THEN
    RAISE EXCEPTION 'this needs an admin''s % token', CASE WHEN p_require_human THEN 'human' ELSE 'api' END USING ERRCODE = '42501';
  END IF;
  RETURN v_member;
END $$;

-- The notification lease check, shared by the worker's functions below: the notification is being sent, in the
-- caller's workspace scope, with this token, and the lease is not past now().
CREATE FUNCTION app.check_notification_lease(p_id text, p_token uuid, OUT ws text, OUT channel_id text, OUT kind text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_status text;
  v_token uuid;
  v_expires timestamptz;
BEGIN
  SELECT n.workspace_id, n.channel_id, n.kind, n.status, n.lease_token, n.lease_expires_at
    INTO ws, channel_id, kind, v_status, v_token, v_expires
    FROM public.notifications n WHERE n.id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'notification not found' USING ERRCODE = 'PXN01';
  END IF;
  IF ws IS DISTINCT FROM app.current_workspace() THEN
    RAISE EXCEPTION 'the notification is not in the workspace of this scope' USING ERRCODE = 'PXS01';
  END IF;
  IF v_status <> 'sending' OR v_token IS DISTINCT FROM p_token OR v_expires <= clock_timestamp() THEN
    RAISE EXCEPTION 'lease lost' USING ERRCODE = 'PXL01';
  END IF;
END $$;

-- ── ingest: feedback from Slack buttons and PR comments ─────────────────────────────────────────────────────────

-- Record a feedback delivery once (replay protection on delivery id and body digest), the run taken from the
-- installation's workspace only. Outcome: recorded | duplicate | unknown_installation | run_not_found.
CREATE FUNCTION public.ingest_record_feedback(p_source text, p_delivery_id text, p_body_sha256 text, p_external_id text,
    p_run_id text, p_verdict text, p_actor_id text, p_actor_is_bot boolean)
  RETURNS TABLE (outcome text, workspace_id text, run_id text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  v_ws text;
  v_skill text;
  v_n integer;
BEGIN
  SELECT i.workspace_id INTO v_ws FROM public.integrations i
   WHERE i.provider = p_source AND i.external_id = p_external_id AND i.status = 'active';
  INSERT INTO public.webhook_deliveries (source, delivery_id, body_sha256, workspace_id, outcome)
  VALUES (p_source, p_delivery_id, p_body_sha256, v_ws, 'ignored')
  ON CONFLICT DO NOTHING;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  IF v_n = 0 THEN
    RETURN QUERY SELECT 'duplicate'::text, v_ws, NULL::text;
    RETURN;
  END IF;
  IF v_ws IS NULL THEN
    RETURN QUERY SELECT 'unknown_installation'::text, NULL::text, NULL::text;
    RETURN;
  END IF;
  SELECT r.skill_id INTO v_skill FROM public.agent_runs r WHERE r.id = p_run_id AND r.workspace_id = v_ws;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'run_not_found'::text, v_ws, NULL::text;
    RETURN;
  END IF;
  INSERT INTO public.skill_feedback (workspace_id, run_id, skill_id, verdict, source, actor_id, actor_is_bot)
  VALUES (v_ws, p_run_id, v_skill, p_verdict, p_source, p_actor_id, p_actor_is_bot);
  UPDATE public.webhook_deliveries d SET outcome = 'accepted', run_ids = ARRAY[p_run_id]
   WHERE d.source = p_source AND d.delivery_id = p_delivery_id;
  RETURN QUERY SELECT 'recorded'::text, v_ws, p_run_id;
END $$;

-- `/praxa accept|reject` on a PR: the PR's latest succeeded run triggered by a pull_request event, in the
-- installation's workspace, gets the verdict.
CREATE FUNCTION public.ingest_record_pr_feedback(p_delivery_id text, p_body_sha256 text, p_installation_id text,
    p_repo text, p_pr_number integer, p_verdict text, p_actor_id text, p_actor_is_bot boolean)
  RETURNS TABLE (outcome text, workspace_id text, run_id text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  v_ws text;
  v_run text;
BEGIN
  SELECT i.workspace_id INTO v_ws FROM public.integrations i
   WHERE i.provider = 'github' AND i.external_id = p_installation_id AND i.status = 'active';
  IF v_ws IS NOT NULL THEN
    SELECT r.id INTO v_run FROM public.agent_runs r
     WHERE r.workspace_id = v_ws AND r.trigger LIKE 'github.pull_request.%'
       AND r.input ->> 'repo' = p_repo AND r.input ->> 'prNumber' = p_pr_number::text AND r.status = 'succeeded'
     ORDER BY r.created_at DESC, r.id DESC
     LIMIT 1;
  END IF;
  IF v_ws IS NOT NULL AND v_run IS NULL THEN
    -- Nothing to judge: record the delivery (replay protection) and say so.
    INSERT INTO public.webhook_deliveries (source, delivery_id, body_sha256, workspace_id, outcome)
    VALUES ('github', p_delivery_id, p_body_sha256, v_ws, 'ignored') ON CONFLICT DO NOTHING;
    RETURN QUERY SELECT CASE WHEN FOUND THEN 'run_not_found' ELSE 'duplicate' END::text, v_ws, NULL::text;
    RETURN;
  END IF;
  RETURN QUERY SELECT * FROM public.ingest_record_feedback('github', p_delivery_id, p_body_sha256, p_installation_id,
                                                         v_run, p_verdict, p_actor_id, p_actor_is_bot);
END $$;

-- ── monitor: the acceptance pass, self-pause, notifications, checkpoints ─────────────────────────────────────────

-- One pass over Skills whose feedback changed (at most p_limit; rows another monitor is on are skipped): recompute
-- their figures, keep a sample when they changed, and return them with `below` = under the threshold with at least
-- minSamples decisions. An active Skill found below stays marked, so a monitor that dies before pausing it leaves
-- the work to the next pass.
CREATE FUNCTION public.monitor_acceptance_pass(p_limit integer)
  RETURNS TABLE (workspace_id text, skill_id text, status text, decided integer, accepted integer, rate numeric,
                 threshold numeric, window_size integer, min_samples integer, below boolean)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  v_ids text[];
BEGIN
  SELECT array_agg(p.skill_id) INTO v_ids FROM (
    SELECT q.skill_id FROM public.skill_acceptance q WHERE q.dirty
     ORDER BY q.changed_at LIMIT LEAST(GREATEST(p_limit, 1), 10000)
       FOR UPDATE SKIP LOCKED) p;
  IF v_ids IS NULL THEN
    RETURN;
  END IF;
  RETURN QUERY
    WITH computed AS (
      SELECT f.workspace_id, f.skill_id, f.status, f.decided, f.accepted,
             CASE WHEN f.decided > 0 THEN round(f.accepted::numeric / f.decided, 5) END AS rate,
             f.threshold, f.window_size, f.min_samples
        FROM app.acceptance_for(v_ids) f),
    flagged AS (
      SELECT c.*, (c.rate IS NOT NULL AND c.threshold IS NOT NULL AND c.decided >= COALESCE(c.min_samples, 1)
                   AND c.rate < c.threshold) AS below
        FROM computed c),
    sampled AS (
      INSERT INTO public.skill_acceptance_samples (workspace_id, skill_id, decided, accepted, rate, threshold, window_size)
      SELECT f.workspace_id, f.skill_id, f.decided, f.accepted, f.rate, f.threshold, f.window_size
        FROM flagged f JOIN public.skill_acceptance q ON q.skill_id = f.skill_id
       WHERE f.decided > 0 AND (q.decided, q.accepted, q.evaluated_at IS NULL) IS DISTINCT FROM (f.decided, f.accepted, false)
      RETURNING 1),
    updated AS (
      UPDATE public.skill_acceptance q
         SET dirty = (f.below AND f.status = 'active'), decided = f.decided, accepted = f.accepted, rate = f.rate,
             threshold = f.threshold, window_size = f.window_size, min_samples = f.min_samples, evaluated_at = clock_timestamp()
        FROM flagged f WHERE q.skill_id = f.skill_id
      RETURNING 1)
    SELECT f.workspace_id, f.skill_id, f.status, f.decided, f.accepted, f.rate, f.threshold, f.window_size, f.min_samples, f.below
      FROM flagged f;
END $$;

-- Pause one Skill of the scope's workspace if — recomputed here, not taken from the caller — its rate is below its
-- threshold with at least minSamples decisions and it is active. One transaction with the caller's audit append: the
-- Skill row is locked first, so of two monitors racing, the second waits, then sees the pause and does nothing.
-- Records the pause (reason, rate, threshold) and one notification per enabled channel the manifest's `notify` names.
CREATE FUNCTION public.monitor_pause_skill(p_skill_id text)
  RETURNS TABLE (paused boolean, pause_id bigint, reason text, rate numeric, threshold numeric, decided integer,
                 accepted integer, window_size integer, min_samples integer, incident_key text, notification_ids text[])
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  v_ws text := app.current_workspace();
  v record;
  v_rate numeric;
  v_reason text;
  v_pause bigint;
  v_key text;
  v_ids text[];
BEGIN
  IF v_ws IS NULL THEN
    RAISE EXCEPTION 'pausing needs a workspace scope' USING ERRCODE = 'PXS01';
  END IF;
  PERFORM 1 FROM public.skills s WHERE s.id = p_skill_id AND s.workspace_id = v_ws FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'skill not found' USING ERRCODE = 'PXN01';
  END IF;
  SELECT * INTO v FROM app.acceptance_for(ARRAY[p_skill_id]);
  v_rate := CASE WHEN v.decided > 0 THEN round(v.accepted::numeric / v.decided, 5) END;
  IF v.status <> 'active' OR v_rate IS NULL OR v.threshold IS NULL OR v.decided < COALESCE(v.min_samples, 1) OR v_rate >= v.threshold THEN
    UPDATE public.skill_acceptance q SET dirty = false WHERE q.skill_id = p_skill_id;
    RETURN QUERY SELECT false, NULL::bigint, NULL::text, v_rate, v.threshold, v.decided, v.accepted, v.window_size,
                        v.min_samples, NULL::text, '{}'::text[];
    RETURN;
  END IF;
  v_reason := format('acceptance rate %s over the last %s decided actions is below the published threshold %s',
                     trim_scale(v_rate), v.decided, trim_scale(v.threshold));
  UPDATE public.skills SET status = 'paused', paused_at = clock_timestamp(), paused_reason = v_reason,
         paused_by = 'monitor', updated_at = clock_timestamp()
   WHERE id = p_skill_id AND status = 'active';
  v_key := 'praxa/' || p_skill_id || '/' || gen_random_uuid()::text;
  INSERT INTO public.skill_pauses (workspace_id, skill_id, cause, reason, rate, threshold, decided, accepted, paused_by, incident_key)
  VALUES (v_ws, p_skill_id, 'acceptance', v_reason, v_rate, v.threshold, v.decided, v.accepted, 'monitor', v_key)
  RETURNING id INTO v_pause;
  WITH created AS (
    INSERT INTO public.notifications (workspace_id, id, channel_id, skill_id, pause_id, event, kind)
    SELECT v_ws, app.new_typeid('nt'), c.id, p_skill_id, v_pause, 'skill.paused', c.kind
      FROM public.notification_channels c
     WHERE c.workspace_id = v_ws AND c.disabled_at IS NULL AND c.kind = ANY (v.notify)
     ORDER BY c.created_at, c.id
    RETURNING id)
  SELECT COALESCE(array_agg(created.id ORDER BY created.id), '{}') INTO v_ids FROM created;
  UPDATE public.skill_acceptance q SET dirty = false WHERE q.skill_id = p_skill_id;
  RETURN QUERY SELECT true, v_pause, v_reason, v_rate, v.threshold, v.decided, v.accepted, v.window_size, v.min_samples, v_key, v_ids;
END $$;

-- The notification outbox's reconciler: pending notifications older than the grace period, and sending ones whose
-- lease expired, across workspaces, oldest first.
CREATE FUNCTION public.monitor_open_notifications(p_grace_seconds integer, p_limit integer)
  RETURNS TABLE (notification_id text, workspace_id text, status text, updated_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT n.id, n.workspace_id, n.status, n.updated_at FROM public.notifications n
   WHERE (n.status = 'pending' AND n.updated_at < clock_timestamp() - make_interval(secs => p_grace_seconds))
      OR (n.status = 'sending' AND n.lease_expires_at < clock_timestamp())
   ORDER BY n.updated_at
   LIMIT LEAST(GREATEST(p_limit, 1), 10000)
$$;

-- Time-based checkpoints: workspaces whose chain grew past their newest checkpoint.
CREATE FUNCTION public.monitor_checkpoints_due(p_limit integer)
  RETURNS TABLE (workspace_id text, head_seq bigint, checkpointed bigint)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT h.workspace_id, h.seq, COALESCE(c.size, 0)
    FROM public.audit_chain_heads h
    LEFT JOIN LATERAL (SELECT max(cp.tree_size) AS size FROM public.audit_checkpoints cp WHERE cp.workspace_id = h.workspace_id) c ON true
   WHERE h.seq > COALESCE(c.size, 0)
   ORDER BY h.updated_at
   LIMIT LEAST(GREATEST(p_limit, 1), 10000)
$$;

-- ── worker: notifications under a lease ──────────────────────────────────────────────────────────────────────────

-- Claim a notification by id; the workspace, channel and what to say come from the rows, never from the job. A
-- pending one, or one whose sending lease expired, is taken with a new lease token; anything else returns no row.
CREATE FUNCTION public.notification_claim(p_id text, p_holder text, p_lease_seconds integer DEFAULT 60)
  RETURNS TABLE (workspace_id text, channel_id text, kind text, target text, event text, attempts integer,
                 lease_token uuid, lease_expires_at timestamptz, skill_id text, skill_slug text, skill_name text,
                 cause text, reason text, rate numeric, threshold numeric, decided integer, incident_key text,
                 paused_at timestamptz, resumed_by text, resume_reason text)
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
      UPDATE public.notifications n
         SET status = 'sending', attempts = n.attempts + 1, lease_token = gen_random_uuid(), lease_holder = p_holder,
             lease_expires_at = clock_timestamp() + make_interval(secs => p_lease_seconds), updated_at = clock_timestamp()
       WHERE n.id = p_id
         AND (n.status = 'pending' OR (n.status = 'sending' AND n.lease_expires_at < clock_timestamp()))
      RETURNING n.workspace_id, n.channel_id, n.kind, n.event, n.attempts, n.lease_token, n.lease_expires_at, n.skill_id, n.pause_id)
    SELECT c.workspace_id, c.channel_id, c.kind, ch.target, c.event, c.attempts, c.lease_token, c.lease_expires_at,
           s.id, s.slug, s.name, p.cause, p.reason, p.rate, p.threshold, p.decided, p.incident_key, p.paused_at,
           p.resumed_by, p.resume_reason
      FROM claimed c
      JOIN public.notification_channels ch ON ch.id = c.channel_id
      JOIN public.skills s ON s.id = c.skill_id
      JOIN public.skill_pauses p ON p.id = c.pause_id;
END $$;

-- The channel's sealed secret, under the lease: a PagerDuty channel's routing key, or the bot token of the Slack
-- integration a Slack channel posts through (vault name `slack/bot/<team id>`). No row when the channel needs none.
CREATE FUNCTION public.notification_secret(p_id text, p_token uuid)
  RETURNS TABLE (ciphertext bytea, key_id text, provider text, purpose text, expires_at timestamptz)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  l record;
  v_name text;
BEGIN
  SELECT * INTO l FROM app.check_notification_lease(p_id, p_token);
  IF l.kind = 'pagerduty' THEN
    SELECT c.vault_name INTO v_name FROM public.notification_channels c WHERE c.id = l.channel_id;
  ELSIF l.kind = 'slack' THEN
    SELECT 'slack/bot/' || i.external_id INTO v_name
      FROM public.notification_channels c
      JOIN public.integrations i ON i.workspace_id = c.workspace_id AND i.id = c.integration_id
     WHERE c.id = l.channel_id AND i.provider = 'slack' AND i.status = 'active';
  END IF;
  IF v_name IS NULL THEN
    RETURN;
  END IF;
  RETURN QUERY SELECT s.ciphertext, s.key_id, s.provider, s.purpose, s.expires_at
                 FROM vault.secrets s WHERE s.workspace_id = l.ws AND s.name = v_name;
END $$;

-- The workspace's key material to open that secret with, under the same lease (cf. workspace_keys_for_run).
CREATE FUNCTION public.notification_workspace_keys(p_id text, p_token uuid)
  RETURNS TABLE (key_id text, status text, public_key bytea, wrapped_private_key bytea, tenant_id text, tenant_key_id text,
                 tenant_wrapped_key bytea, kms_key_ref text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE l record;
BEGIN
  SELECT * INTO l FROM app.check_notification_lease(p_id, p_token);
  RETURN QUERY
    SELECT k.key_id, k.status, k.public_key, k.wrapped_private_key, t.tenant_id, t.key_id, t.wrapped_key, t.kms_key_ref
      FROM public.workspace_keys k JOIN public.tenant_keys t ON t.key_id = k.tenant_key_id
     WHERE k.workspace_id = l.ws AND k.status <> 'destroyed'
     ORDER BY k.created_at DESC;
END $$;

-- Record an attempt's outcome under the lease: delivered; retry (back to pending, the queue retries with backoff);
-- failed (given up). The lease is released either way.
CREATE FUNCTION public.notification_finish(p_id text, p_token uuid, p_outcome text, p_error_code text DEFAULT NULL)
  RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_outcome NOT IN ('delivered', 'retry', 'failed') THEN
    RAISE EXCEPTION 'an outcome is delivered, retry or failed' USING ERRCODE = 'PXV01';
  END IF;
  PERFORM app.check_notification_lease(p_id, p_token);
  UPDATE public.notifications
     SET status = CASE p_outcome WHEN 'delivered' THEN 'delivered' WHEN 'retry' THEN 'pending' ELSE 'failed' END,
         last_error_code = CASE WHEN p_outcome = 'delivered' THEN NULL ELSE p_error_code END,
         delivered_at = CASE WHEN p_outcome = 'delivered' THEN clock_timestamp() END,
         lease_token = NULL, lease_holder = NULL, lease_expires_at = NULL, updated_at = clock_timestamp()
   WHERE id = p_id;
END $$;

-- ── api: manual pause and the human-only resume ──────────────────────────────────────────────────────────────────

-- An admin pauses a Skill by hand (a human or an automation token: pausing is the safe direction). No notification.
CREATE FUNCTION public.api_pause_skill(p_skill_id text, p_token_id text, p_secret_sha256 text, p_reason text)
  RETURNS TABLE (paused boolean, pause_id bigint, member_id text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  v_ws text := app.current_workspace();
  v_member text := app.check_admin_token(p_token_id, p_secret_sha256, false);
  v_status text;
  v_pause bigint;
BEGIN
  IF p_reason IS NULL OR length(p_reason) NOT BETWEEN 1 AND 500 THEN
    RAISE EXCEPTION 'a reason of 1 to 500 characters is required' USING ERRCODE = 'PXV01';
  END IF;
  SELECT s.status INTO v_status FROM public.skills s WHERE s.id = p_skill_id AND s.workspace_id = v_ws FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'skill not found' USING ERRCODE = 'PXN01';
  END IF;
  IF v_status = 'paused' THEN
    RETURN QUERY SELECT false, NULL::bigint, v_member;
    RETURN;
  END IF;
  UPDATE public.skills SET status = 'paused', paused_at = clock_timestamp(), paused_reason = p_reason,
         paused_by = v_member, updated_at = clock_timestamp()
   WHERE id = p_skill_id;
  INSERT INTO public.skill_pauses (workspace_id, skill_id, cause, reason, paused_by, incident_key)
  VALUES (v_ws, p_skill_id, 'manual', p_reason, v_member, 'praxa/' || p_skill_id || '/' || gen_random_uuid()::text)
  RETURNING id INTO v_pause;
  RETURN QUERY SELECT true, v_pause, v_member;
END $$;

-- Only a human admin resumes: the token is re-checked here (kind human, role owner or admin, live). The Skill goes
-- back to active (the guard trigger lets only this transaction do it), the pause is closed with who and why, and each
-- channel told of the pause is told of the resume (PagerDuty: `resolve` under the same dedup_key).
CREATE FUNCTION public.api_resume_skill(p_skill_id text, p_token_id text, p_secret_sha256 text, p_reason text)
  RETURNS TABLE (resumed boolean, pause_id bigint, member_id text, notification_ids text[])
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  v_ws text := app.current_workspace();
  v_member text := app.check_admin_token(p_token_id, p_secret_sha256, true);
  v_status text;
  v_pause bigint;
  v_ids text[];
BEGIN
  IF p_reason IS NULL OR length(p_reason) NOT BETWEEN 1 AND 500 THEN
    RAISE EXCEPTION 'a reason of 1 to 500 characters is required' USING ERRCODE = 'PXV01';
  END IF;
  SELECT s.status INTO v_status FROM public.skills s WHERE s.id = p_skill_id AND s.workspace_id = v_ws FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'skill not found' USING ERRCODE = 'PXN01';
  END IF;
  IF v_status <> 'paused' THEN
    RETURN QUERY SELECT false, NULL::bigint, v_member, '{}'::text[];
    RETURN;
  END IF;
  PERFORM pg_catalog.set_config('app.resume_skill', p_skill_id, true);
  UPDATE public.skills SET status = 'active', paused_at = NULL, paused_reason = NULL, paused_by = NULL,
         updated_at = clock_timestamp()
   WHERE id = p_skill_id;
  PERFORM pg_catalog.set_config('app.resume_skill', '', true);
  UPDATE public.skill_pauses p SET resumed_at = clock_timestamp(), resumed_by = v_member, resume_reason = p_reason
   WHERE p.skill_id = p_skill_id AND p.resumed_at IS NULL
  RETURNING p.id INTO v_pause;
  WITH created AS (
    INSERT INTO public.notifications (workspace_id, id, channel_id, skill_id, pause_id, event, kind)
    SELECT v_ws, app.new_typeid('nt'), n.channel_id, p_skill_id, v_pause, 'skill.resumed', n.kind
      FROM public.notifications n
     WHERE n.pause_id = v_pause AND n.event = 'skill.paused'
     ORDER BY n.id
    RETURNING id)
  SELECT COALESCE(array_agg(created.id ORDER BY created.id), '{}') INTO v_ids FROM created;
  RETURN QUERY SELECT true, v_pause, v_member, v_ids;
END $$;

DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN
    SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
      JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     WHERE p.prosecdef AND n.nspname IN ('public', 'app')
       AND p.proname IN ('fold_feedback', 'check_admin_token', 'check_notification_lease', 'ingest_record_feedback',
                         'ingest_record_pr_feedback', 'monitor_acceptance_pass', 'monitor_pause_skill',
                         'monitor_open_notifications', 'monitor_checkpoints_due', 'notification_claim',
                         'notification_secret', 'notification_workspace_keys', 'notification_finish',
                         'api_pause_skill', 'api_resume_skill')
  LOOP
    EXECUTE pg_catalog.format('ALTER FUNCTION %s OWNER TO praxa_definer', f);
    EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
END $$;

GRANT EXECUTE ON FUNCTION public.ingest_record_feedback(text, text, text, text, text, text, text, boolean) TO praxa_ingest;
GRANT EXECUTE ON FUNCTION public.ingest_record_pr_feedback(text, text, text, text, integer, text, text, boolean) TO praxa_ingest;
GRANT EXECUTE ON FUNCTION public.monitor_acceptance_pass(integer) TO praxa_monitor;
GRANT EXECUTE ON FUNCTION public.monitor_pause_skill(text) TO praxa_monitor;
GRANT EXECUTE ON FUNCTION public.monitor_open_notifications(integer, integer) TO praxa_monitor;
GRANT EXECUTE ON FUNCTION public.monitor_checkpoints_due(integer) TO praxa_monitor;
GRANT EXECUTE ON FUNCTION public.notification_claim(text, text, integer) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.notification_secret(text, uuid) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.notification_workspace_keys(text, uuid) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.notification_finish(text, uuid, text, text) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.api_pause_skill(text, text, text, text) TO praxa_api;
GRANT EXECUTE ON FUNCTION public.api_resume_skill(text, text, text, text) TO praxa_api;
-- app.check_admin_token, app.check_notification_lease and app.fold_feedback run only inside the functions and the
-- trigger above (as praxa_definer); app.acceptance_for and app.new_typeid are executable by praxa_definer only.
