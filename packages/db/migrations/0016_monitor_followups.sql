-- Follow-ups to the quality monitor (0014).
--
-- 1. A Slack notification posts as the workspace's Slack bot, whose sealed record the OAuth install stores under
-- `slack/bot/<team id in lower case>` (connectors' slackBotVaultName; 0013's install path). 0014 looked it up under the
-- team id as Slack writes it; this reads the right name, and locks the vault row for the read (FOR UPDATE), so a
-- notification refreshing a rotating bot token serializes with a run refreshing the same token (vault_lock_for_run):
-- Slack revokes a refresh token on use, so two refreshes of one token must never overlap. It also returns the record's
-- name, where the refreshed pair is stored back (vault_put_secret). Same lease rules as before.
DROP FUNCTION public.notification_secret(text, uuid);
CREATE FUNCTION public.notification_secret(p_id text, p_token uuid)
  RETURNS TABLE (name text, ciphertext bytea, key_id text, provider text, purpose text, expires_at timestamptz)
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
    SELECT 'slack/bot/' || lower(i.external_id) INTO v_name
      FROM public.notification_channels c
      JOIN public.integrations i ON i.workspace_id = c.workspace_id AND i.id = c.integration_id
     WHERE c.id = l.channel_id AND i.provider = 'slack' AND i.status = 'active';
  END IF;
  IF v_name IS NULL THEN
    RETURN;
  END IF;
  RETURN QUERY SELECT s.name, s.ciphertext, s.key_id, s.provider, s.purpose, s.expires_at
                 FROM vault.secrets s WHERE s.workspace_id = l.ws AND s.name = v_name
                  FOR UPDATE OF s;
END $$;
ALTER FUNCTION public.notification_secret(text, uuid) OWNER TO praxa_definer;
REVOKE ALL ON FUNCTION public.notification_secret(text, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.notification_secret(text, uuid) TO praxa_worker;

-- 2. The window restarts at a resume: decisions made before a human resumed the Skill no longer count (they judged
--    the behaviour the human reviewed and took responsibility for); the Skill needs minSamples new decisions before
--    it can pause again. Without this, the first verdict after a resume would re-pause it on the old figures.
SET LOCAL ROLE praxa_owner;
CREATE INDEX skill_pauses_skill_idx ON skill_pauses (skill_id, resumed_at);
RESET ROLE;

CREATE OR REPLACE FUNCTION app.acceptance_for(p_skill_ids text[])
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
                 AND x.decided_at > COALESCE((SELECT max(p.resumed_at) FROM public.skill_pauses p WHERE p.skill_id = s.id), '-infinity')
               ORDER BY x.decided_at DESC, x.run_id DESC
               LIMIT GREATEST(COALESCE(m.window_size, 1), 1)) a) w ON true
   WHERE s.id = ANY (p_skill_ids)
$$;
ALTER FUNCTION app.acceptance_for(text[]) OWNER TO praxa_owner;
REVOKE ALL ON FUNCTION app.acceptance_for(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.acceptance_for(text[]) TO praxa_definer;

-- 3. monitor_pause_skill takes its locks in the acceptance pass's order (figures row, then Skill): a pause racing a
--    pass of another monitor deadlocked (SQLSTATE 40P01) when each held one and wanted the other.
CREATE OR REPLACE FUNCTION public.monitor_pause_skill(p_skill_id text)
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
  -- Lock order: the Skill's figures row, then the Skill — the order of the acceptance pass (which skips a locked
  -- figures row, then touches the Skill through the samples' foreign key), so the two never deadlock.
  PERFORM 1 FROM public.skill_acceptance q WHERE q.skill_id = p_skill_id AND q.workspace_id = v_ws FOR UPDATE;
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

ALTER FUNCTION public.monitor_pause_skill(text) OWNER TO praxa_definer;
REVOKE ALL ON FUNCTION public.monitor_pause_skill(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.monitor_pause_skill(text) TO praxa_monitor;
