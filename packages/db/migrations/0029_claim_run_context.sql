-- The worker's claim, with everything a run needs to start, in one call (issue #20: a run cost 16 transactions).
-- claim_run_context calls claim_run (0027: caps, gates, not_before, cancel — every outcome and lock unchanged) and, when
-- the lease is ours, returns in the same transaction what the worker read afterwards in three more: the run's input,
-- source, parent and integration; its Skill's status and slug and the pinned version's manifest and hash; its depth
-- (parents up to 6); the workspace's active public key (sealing needs nothing else); the run's recorded steps (a retry
-- replays them; sealed results as base64, still sealed); and the external ids of the GitHub installations it may act
-- through (the one it came through, or — a run that recorded none — the workspace's active ones, at most 2); and the
-- workspace's model credentials (provider and vault name only, newest first: which one to open is the worker's choice,
-- and opening it still needs vault_read_for_run under the lease); and the W3C traceparent ingest stored (0028), so the
-- run's span continues the webhook's trace; and how long the run waited before its first claim (metrics).
-- Nothing here is returned for a run that was not claimed now, and everything is the claimed run's own workspace's.
CREATE FUNCTION public.claim_run_context(p_run_id text, p_worker_id text, p_lease_seconds integer DEFAULT 30)
  RETURNS TABLE (outcome text, workspace_id text, skill_id text, skill_version_id text, trigger text, attempt integer,
                 lease_token uuid, lease_expires_at timestamptz, deferrals integer,
                 input jsonb, source text, parent_run_id text, integration_id text, skill_status text, skill_slug text,
                 manifest jsonb, manifest_hash text, depth integer, public_key_id text, public_key bytea, steps jsonb,
                 github_installations text[], llm_credentials jsonb, traceparent text,
                 wait_ms double precision)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  c record;
BEGIN
  SELECT * INTO c FROM public.claim_run(p_run_id, p_worker_id, p_lease_seconds) AS x LIMIT 1;
  IF c.outcome IS DISTINCT FROM 'claimed' THEN
    RETURN QUERY SELECT c.outcome, c.workspace_id, c.skill_id, c.skill_version_id, c.trigger, c.attempt, c.lease_token,
                        c.lease_expires_at, c.deferrals, NULL::jsonb, NULL::text, NULL::text, NULL::text, NULL::text,
                        NULL::text, NULL::jsonb, NULL::text, NULL::integer, NULL::text, NULL::bytea, NULL::jsonb,
                        NULL::text[], NULL::jsonb, NULL::text, NULL::double precision;
    RETURN;
  END IF;
  RETURN QUERY
    SELECT c.outcome, c.workspace_id, c.skill_id, c.skill_version_id, c.trigger, c.attempt, c.lease_token,
           c.lease_expires_at, c.deferrals,
           r.input, r.source, r.parent_run_id, r.integration_id, s.status, s.slug, v.manifest, v.manifest_hash,
           (WITH RECURSIVE up(id, n) AS (
                SELECT r.parent_run_id, 0
              UNION ALL
                SELECT p.parent_run_id, up.n + 1 FROM up
                  JOIN public.agent_runs p ON p.workspace_id = c.workspace_id AND p.id = up.id
                 WHERE up.n < 5)
            SELECT count(*)::integer FROM up WHERE up.id IS NOT NULL),
           k.key_id, k.public_key,
           (SELECT COALESCE(jsonb_agg(jsonb_build_object(
                      'idx', st.idx, 'idempotency_key', st.idempotency_key, 'status', st.status, 'result', st.result,
                      'result_sealed', encode(st.result_sealed, 'base64')) ORDER BY st.idx), '[]'::jsonb)
              FROM public.run_steps st WHERE st.workspace_id = c.workspace_id AND st.run_id = p_run_id),
           ARRAY(SELECT i.external_id FROM public.integrations i
                  WHERE i.workspace_id = c.workspace_id AND i.provider = 'github' AND i.status = 'active'
                    AND (r.integration_id IS NULL OR i.id = r.integration_id)
                  ORDER BY i.created_at, i.id
                  LIMIT 2),
           (SELECT COALESCE(jsonb_agg(jsonb_build_object('provider', l.provider, 'vault_name', l.vault_name)
                                      ORDER BY l.created_at DESC, l.id DESC), '[]'::jsonb)
              FROM public.llm_credentials l WHERE l.workspace_id = c.workspace_id),
           r.traceparent,
           (extract(epoch from (r.started_at - r.created_at)) * 1000)::double precision
      FROM public.agent_runs r
      JOIN public.skills s ON s.workspace_id = r.workspace_id AND s.id = r.skill_id
      JOIN public.skill_versions v ON v.workspace_id = r.workspace_id AND v.id = r.skill_version_id
      LEFT JOIN public.workspace_keys k ON k.workspace_id = r.workspace_id AND k.status = 'active'
     WHERE r.id = p_run_id;
END $$;

GRANT SELECT ON llm_credentials TO praxa_definer;

ALTER FUNCTION public.claim_run_context(text, text, integer) OWNER TO praxa_definer;
REVOKE ALL ON FUNCTION public.claim_run_context(text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.claim_run_context(text, text, integer) TO praxa_worker;
