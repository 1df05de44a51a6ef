-- Data lifecycle (issue #22): retention cuts of the audit chain behind a signed checkpoint, run-log retention, and the
-- erasure of a workspace with a signed receipt.
--
-- praxa_lifecycle (NOLOGIN) is the one role the audit triggers (0005, 0019) let delete. The functions here that delete
-- are SECURITY DEFINER functions OWNED BY praxa_lifecycle (so that, inside them, current_user is praxa_lifecycle),
-- named lifecycle_*, with the fixed search_path of every definer function; the catalog test allows exactly those.
-- The rest (requests and receipts, which delete nothing) are owned by praxa_definer as usual.
--
-- Generic erasure: every table with a `workspace_id` column gets, through app.enable_lifecycle_access, a SELECT and a
-- DELETE policy for praxa_lifecycle and the matching grants — the tables that exist now (the loop at the end), and
-- every table a later migration declares through app.enable_tenant_rls / app.enable_platform_rls (both replaced here
-- to call it). lifecycle_erase_workspace enumerates those tables from the catalog when it runs and refuses to run if
-- one of them is not reachable (no lifecycle policy), so a table nobody told us about fails loudly, never silently.
SET LOCAL ROLE praxa_owner;

-- ── what a retention cut keeps ───────────────────────────────────────────────────────────────────────────────────────
-- The event hashes (RFC 9162 leaf inputs) of the removed events, 32 raw bytes each in seq order, in chunks of at most
-- 65,536. Each hash is SHA-256(prev_hash ‖ canonical): salted by its predecessor, it reveals nothing of the event. With
-- them every checkpoint's root can still be recomputed (a customer's trusted checkpoint from before the cut is still
-- proven consistent with today's log), and the first kept event's prev_hash is anchored on the last removed hash.
CREATE TABLE audit_retention_cuts (
  workspace_id  text NOT NULL REFERENCES workspaces(id),
  from_seq      bigint NOT NULL CHECK (from_seq >= 1),
  through_seq   bigint NOT NULL,
  leaf_hashes   bytea NOT NULL,
  cut_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, from_seq),
  CHECK (through_seq >= from_seq AND through_seq - from_seq < 65536),
  CHECK (pg_catalog.length(leaf_hashes) = 32 * (through_seq - from_seq + 1))
);
SELECT app.enable_tenant_rls('audit_retention_cuts');
GRANT SELECT ON audit_retention_cuts TO praxa_api;

-- Run logs have a window of their own (default 90 days, like the audit log).
ALTER TABLE workspaces ADD COLUMN run_retention_days integer NOT NULL DEFAULT 90 CHECK (run_retention_days BETWEEN 1 AND 3650);

-- ── erasure requests and receipts (platform records: they outlive the workspace) ─────────────────────────────────────
-- The column is subject_workspace_id, not workspace_id, on purpose: this is the one record of a workspace that stays
-- after its erasure (the signed receipt), and no tenant policy or erasure enumerates it.
CREATE TABLE workspace_erasures (
  id                    uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
  subject_workspace_id  text NOT NULL CHECK (app.is_typeid(subject_workspace_id, 'ws')),
  tenant_id             text NOT NULL,
  requested_by          text NOT NULL CHECK (length(requested_by) BETWEEN 1 AND 200),
  requested_at          timestamptz NOT NULL DEFAULT now(),
  execute_after         timestamptz NOT NULL,
  due_by                timestamptz NOT NULL,
  status                text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'cancelled', 'erased', 'receipted')),
  cancelled_at          timestamptz,
  erased_at             timestamptz,
  counts                jsonb,
  final_tree_size       bigint,
  final_root_hash       text CHECK (final_root_hash ~ '^[0-9a-f]{64}$'),
  receipt               bytea,
  receipt_key_id        text,
  receipt_signature     bytea,
  overdue_alerted_at    timestamptz,
  CHECK (due_by <= requested_at + interval '7 days' AND execute_after <= due_by),
  CHECK ((status = 'receipted') = (receipt IS NOT NULL))
);
CREATE UNIQUE INDEX workspace_erasures_one_open ON workspace_erasures (subject_workspace_id) WHERE status <> 'cancelled';
SELECT app.enable_platform_rls('workspace_erasures');
GRANT SELECT, INSERT, UPDATE ON workspace_erasures TO praxa_definer;
RESET ROLE;

-- Append-only like the audit log: only praxa_lifecycle deletes (erasure), nobody updates.
CREATE TRIGGER audit_retention_cuts_no_update BEFORE UPDATE ON audit_retention_cuts FOR EACH STATEMENT EXECUTE FUNCTION app.audit_refuse_change();
CREATE TRIGGER audit_retention_cuts_no_delete BEFORE DELETE ON audit_retention_cuts FOR EACH STATEMENT EXECUTE FUNCTION app.audit_refuse_change();
CREATE TRIGGER audit_retention_cuts_no_truncate BEFORE TRUNCATE ON audit_retention_cuts FOR EACH STATEMENT EXECUTE FUNCTION app.audit_refuse_change();
CREATE TRIGGER audit_retention_cuts_no_update_row BEFORE UPDATE ON audit_retention_cuts FOR EACH ROW EXECUTE FUNCTION app.audit_refuse_row_change();
CREATE TRIGGER audit_retention_cuts_no_delete_row BEFORE DELETE ON audit_retention_cuts FOR EACH ROW EXECUTE FUNCTION app.audit_refuse_row_change();

-- ── lifecycle access to every workspace table ────────────────────────────────────────────────────────────────────────
CREATE FUNCTION app.enable_lifecycle_access(tbl regclass, ws_column text DEFAULT 'workspace_id') RETURNS void
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  name text := (SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid = tbl);
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                  WHERE a.attrelid = tbl AND a.attname = ws_column AND a.attnum > 0 AND NOT a.attisdropped) THEN
    RETURN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy p WHERE p.polrelid = tbl AND p.polname = name || '_lifecycle_read') THEN
    EXECUTE pg_catalog.format('CREATE POLICY %I ON %s AS PERMISSIVE FOR SELECT TO praxa_lifecycle USING (true)',
                              name || '_lifecycle_read', tbl);
    EXECUTE pg_catalog.format('CREATE POLICY %I ON %s AS PERMISSIVE FOR DELETE TO praxa_lifecycle USING (true)',
                              name || '_lifecycle_delete', tbl);
  END IF;
  EXECUTE pg_catalog.format('GRANT SELECT, DELETE ON %s TO praxa_lifecycle', tbl);
END $$;
ALTER FUNCTION app.enable_lifecycle_access(regclass, text) OWNER TO praxa_owner;
REVOKE ALL ON FUNCTION app.enable_lifecycle_access(regclass, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION app.enable_tenant_rls(tbl regclass, ws_column text DEFAULT 'workspace_id') RETURNS void
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  name text := (SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid = tbl);
BEGIN
  EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
  EXECUTE pg_catalog.format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
  EXECUTE pg_catalog.format(
    'CREATE POLICY %I ON %s AS PERMISSIVE FOR ALL TO praxa_ingest, praxa_worker, praxa_monitor, praxa_api '
    'USING (%I = (SELECT app.current_workspace())) WITH CHECK (%I = (SELECT app.current_workspace()))',
    name || '_workspace_scope', tbl, ws_column, ws_column);
  EXECUTE pg_catalog.format(
    'CREATE POLICY %I ON %s AS PERMISSIVE FOR ALL TO praxa_definer USING (true) WITH CHECK (true)',
    name || '_definer', tbl);
  EXECUTE pg_catalog.format('REVOKE ALL ON %s FROM PUBLIC', tbl);
  PERFORM app.enable_lifecycle_access(tbl, ws_column);
END $$;

CREATE OR REPLACE FUNCTION app.enable_platform_rls(tbl regclass) RETURNS void
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  name text := (SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid = tbl);
BEGIN
  EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
  EXECUTE pg_catalog.format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
  EXECUTE pg_catalog.format(
    'CREATE POLICY %I ON %s AS PERMISSIVE FOR ALL TO praxa_definer USING (true) WITH CHECK (true)',
    name || '_definer', tbl);
  EXECUTE pg_catalog.format('REVOKE ALL ON %s FROM PUBLIC', tbl);
  PERFORM app.enable_lifecycle_access(tbl);
END $$;

-- Every table that exists now: public tables with a workspace_id column, and workspaces itself (its id).
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT c.oid::regclass AS tbl FROM pg_catalog.pg_class c
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
  LOOP
    PERFORM app.enable_lifecycle_access(r.tbl);
  END LOOP;
  PERFORM app.enable_lifecycle_access('public.workspaces'::regclass, 'id');
END $$;

-- Retention writes the cut's leaf hashes; erasure reads and records its request.
CREATE POLICY audit_retention_cuts_lifecycle_insert ON audit_retention_cuts AS PERMISSIVE FOR INSERT TO praxa_lifecycle WITH CHECK (true);
GRANT INSERT ON audit_retention_cuts TO praxa_lifecycle;
CREATE POLICY workspace_erasures_lifecycle ON workspace_erasures AS PERMISSIVE FOR ALL TO praxa_lifecycle USING (true) WITH CHECK (true);
GRANT SELECT, UPDATE ON workspace_erasures TO praxa_lifecycle;
GRANT SELECT ON audit_checkpoints, audit_chain_heads TO praxa_lifecycle;
GRANT EXECUTE ON FUNCTION app.is_typeid(text, text) TO praxa_lifecycle;

-- ── the SIEM floor, connected in one place ───────────────────────────────────────────────────────────────────────────
-- The first seq retention must keep for a workspace (events a SIEM subscription has not delivered yet), or NULL for no
-- constraint. It is the SIEM streams' floor (0032: the lowest seq an active or paused subscription has not had
-- acknowledged): retention never cuts at or past it, and the monitor logs RETENTION_HELD when it holds back.
CREATE FUNCTION app.retention_floor(p_workspace_id text) RETURNS bigint
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
AS $$ SELECT app.siem_retention_floor(p_workspace_id) $$;
ALTER FUNCTION app.retention_floor(text) OWNER TO praxa_owner;
REVOKE ALL ON FUNCTION app.retention_floor(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.retention_floor(text) TO praxa_lifecycle;
GRANT EXECUTE ON FUNCTION app.siem_retention_floor(text) TO praxa_lifecycle;

-- ── retention ────────────────────────────────────────────────────────────────────────────────────────────────────────
-- How far a workspace's chain may be cut now: `wanted` is the last seq of the prefix older than the audit window (the
-- first event inside the window, and everything after it, stay — seq order, not occurred_at order, decides), and
-- `allowed` the same bounded by the SIEM floor. NULL when nothing past the previous cut is due.
CREATE FUNCTION public.lifecycle_retention_bound(p_workspace_id text, OUT wanted bigint, OUT allowed bigint)
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_cutoff timestamptz;
  v_prev   bigint;
  v_new    bigint;
  v_floor  bigint;
BEGIN
  SELECT pg_catalog.clock_timestamp() - pg_catalog.make_interval(days => w.audit_retention_days) INTO v_cutoff
    FROM public.workspaces w WHERE w.id = p_workspace_id;
  IF v_cutoff IS NULL THEN RETURN; END IF;
  SELECT pg_catalog.max(c.through_seq) INTO v_prev FROM public.audit_retention_cuts c WHERE c.workspace_id = p_workspace_id;
  v_prev := COALESCE(v_prev, 0);
  SELECT pg_catalog.max(e.seq) INTO wanted FROM public.audit_events e
   WHERE e.workspace_id = p_workspace_id AND e.occurred_at < v_cutoff;
  IF wanted IS NULL OR wanted <= v_prev THEN wanted := NULL; RETURN; END IF;
  SELECT pg_catalog.min(e.seq) INTO v_new FROM public.audit_events e
   WHERE e.workspace_id = p_workspace_id AND e.seq > v_prev AND e.seq <= wanted AND e.occurred_at >= v_cutoff;
  IF v_new IS NOT NULL THEN wanted := v_new - 1; END IF;
  IF wanted <= v_prev THEN wanted := NULL; RETURN; END IF;
  v_floor := app.retention_floor(p_workspace_id);
  allowed := CASE WHEN v_floor IS NULL THEN wanted ELSE LEAST(wanted, v_floor - 1) END;
  IF allowed <= v_prev THEN allowed := NULL; END IF;
END $$;

-- monitor: the workspaces whose audit chain has a prefix past its window (at most p_limit of them).
CREATE FUNCTION public.lifecycle_retention_due(p_limit integer)
  RETURNS TABLE (workspace_id text, wanted bigint, allowed bigint)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT w.id, b.wanted, b.allowed FROM public.workspaces w
   CROSS JOIN LATERAL public.lifecycle_retention_bound(w.id) b
   WHERE b.wanted IS NOT NULL
   ORDER BY w.id LIMIT LEAST(GREATEST(p_limit, 1), 1000)
$$;

-- monitor: cut the chain through p_through_seq. The cut must be within what retention allows now (recomputed here:
-- the caller cannot remove a fresh event), and behind a signed checkpoint at exactly p_through_seq with its frontier
-- (the monitor signs one first; the database checked at insert that its frontier folds to the signed root). The
-- removed events' hashes are kept in audit_retention_cuts, then the events are deleted. Returns how many were removed.
CREATE FUNCTION public.lifecycle_apply_retention(p_workspace_id text, p_through_seq bigint) RETURNS bigint
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_allowed bigint;
  v_prev    bigint;
  v_count   bigint;
BEGIN
  PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('praxa/retention/' || p_workspace_id, 0));
  SELECT b.allowed INTO v_allowed FROM public.lifecycle_retention_bound(p_workspace_id) b;
  IF v_allowed IS NULL OR p_through_seq IS NULL OR p_through_seq > v_allowed THEN
    RAISE EXCEPTION 'retention may not cut this far now' USING ERRCODE = 'PXV01';
  END IF;
  SELECT COALESCE(pg_catalog.max(c.through_seq), 0) INTO v_prev FROM public.audit_retention_cuts c
   WHERE c.workspace_id = p_workspace_id;
  IF p_through_seq <= v_prev THEN RETURN 0; END IF;
  IF NOT EXISTS (SELECT 1 FROM public.audit_checkpoints k WHERE k.workspace_id = p_workspace_id
                    AND k.tree_size = p_through_seq AND k.frontier IS NOT NULL) THEN
    RAISE EXCEPTION 'a retention cut needs a signed checkpoint at the cut' USING ERRCODE = 'PXV01';
  END IF;
  SELECT pg_catalog.count(*) INTO v_count FROM public.audit_events e
   WHERE e.workspace_id = p_workspace_id AND e.seq > v_prev AND e.seq <= p_through_seq;
  IF v_count <> p_through_seq - v_prev THEN
    RAISE EXCEPTION 'the chain has a gap before the cut' USING ERRCODE = 'PXV01';
  END IF;
  INSERT INTO public.audit_retention_cuts (workspace_id, from_seq, through_seq, leaf_hashes, cut_at)
  SELECT p_workspace_id, pg_catalog.min(e.seq), pg_catalog.max(e.seq),
         pg_catalog.string_agg(pg_catalog.decode(e.hash, 'hex'), ''::bytea ORDER BY e.seq), pg_catalog.clock_timestamp()
    FROM public.audit_events e
   WHERE e.workspace_id = p_workspace_id AND e.seq > v_prev AND e.seq <= p_through_seq
   GROUP BY (e.seq - v_prev - 1) / 65536;
  DELETE FROM public.audit_events e WHERE e.workspace_id = p_workspace_id AND e.seq > v_prev AND e.seq <= p_through_seq;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END $$;

-- monitor: the workspaces with a finished run or a webhook delivery past their run window.
CREATE FUNCTION public.lifecycle_run_retention_due(p_limit integer) RETURNS TABLE (workspace_id text)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT w.id FROM public.workspaces w
   WHERE EXISTS (SELECT 1 FROM public.agent_runs r WHERE r.workspace_id = w.id AND r.finished_at IS NOT NULL
                    AND r.created_at < pg_catalog.clock_timestamp() - pg_catalog.make_interval(days => w.run_retention_days))
      OR EXISTS (SELECT 1 FROM public.webhook_deliveries d WHERE d.workspace_id = w.id
                    AND d.received_at < pg_catalog.clock_timestamp() - pg_catalog.make_interval(days => w.run_retention_days))
   ORDER BY w.id LIMIT LEAST(GREATEST(p_limit, 1), 1000)
$$;

-- monitor: delete the workspace's finished runs older than its run window (at most p_limit a call), with every row
-- of every table that references them (found in the catalog: steps, telemetry, feedback, verdicts, and whatever a
-- later migration adds), and its webhook deliveries older than the window. A run a newer run still points at (as
-- its parent or the run it retried) stays until that one goes too. Returns the rows deleted per table.
CREATE FUNCTION public.lifecycle_apply_run_retention(p_workspace_id text, p_limit integer) RETURNS jsonb
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_cutoff timestamptz;
  v_runs   text[];
  v_counts jsonb := '{}'::jsonb;
  v_n      bigint;
  r        record;
BEGIN
  SELECT pg_catalog.clock_timestamp() - pg_catalog.make_interval(days => w.run_retention_days) INTO v_cutoff
    FROM public.workspaces w WHERE w.id = p_workspace_id;
  IF v_cutoff IS NULL THEN RETURN v_counts; END IF;
  SELECT pg_catalog.array_agg(x.id) INTO v_runs FROM (
    SELECT r0.id FROM public.agent_runs r0
     WHERE r0.workspace_id = p_workspace_id AND r0.created_at < v_cutoff AND r0.finished_at IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM public.agent_runs c
                        WHERE c.workspace_id = p_workspace_id AND (c.parent_run_id = r0.id OR c.retry_of = r0.id)
                          AND NOT (c.created_at < v_cutoff AND c.finished_at IS NOT NULL))
     ORDER BY r0.created_at LIMIT LEAST(GREATEST(p_limit, 1), 10000)) x;
  IF v_runs IS NOT NULL THEN
    FOR r IN
      SELECT k.conrelid::regclass AS tbl,
             (SELECT a.attname FROM pg_catalog.pg_attribute a WHERE a.attrelid = k.conrelid
                 AND a.attnum = k.conkey[pg_catalog.array_position(k.confkey, fw.attnum)]) AS ws_col,
             (SELECT a.attname FROM pg_catalog.pg_attribute a WHERE a.attrelid = k.conrelid
                 AND a.attnum = k.conkey[pg_catalog.array_position(k.confkey, fi.attnum)]) AS id_col
        FROM pg_catalog.pg_constraint k
        JOIN pg_catalog.pg_attribute fw ON fw.attrelid = k.confrelid AND fw.attname = 'workspace_id'
        JOIN pg_catalog.pg_attribute fi ON fi.attrelid = k.confrelid AND fi.attname = 'id'
       WHERE k.contype = 'f' AND k.confrelid = 'public.agent_runs'::regclass AND k.conrelid <> k.confrelid
         AND fw.attnum = ANY (k.confkey) AND fi.attnum = ANY (k.confkey)
       ORDER BY 1
    LOOP
      EXECUTE pg_catalog.format('DELETE FROM %s WHERE %I = $1 AND %I = ANY ($2)', r.tbl, r.ws_col, r.id_col)
        USING p_workspace_id, v_runs;
      GET DIAGNOSTICS v_n = ROW_COUNT;
      v_counts := v_counts || pg_catalog.jsonb_build_object(r.tbl::text, COALESCE((v_counts ->> r.tbl::text)::bigint, 0) + v_n);
    END LOOP;
    DELETE FROM public.agent_runs a WHERE a.workspace_id = p_workspace_id AND a.id = ANY (v_runs);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts := v_counts || pg_catalog.jsonb_build_object('agent_runs', v_n);
  END IF;
  DELETE FROM public.webhook_deliveries d WHERE d.workspace_id = p_workspace_id AND d.received_at < v_cutoff;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  IF v_n > 0 THEN v_counts := v_counts || pg_catalog.jsonb_build_object('webhook_deliveries', v_n); END IF;
  RETURN v_counts;
END $$;

-- ── erasure of a workspace ───────────────────────────────────────────────────────────────────────────────────────────
-- api: a human owner asks for the scope's workspace to be erased (the token re-checked here from its secret's hash, as
-- app.check_admin_token does, but owners only and human only). Executed after a grace period of p_grace_hours (0–72)
-- during which it can be cancelled; due within 7 days of the request. Idempotent: an open request is returned as is.
CREATE FUNCTION public.api_request_workspace_erasure(p_token_id text, p_secret_sha256 text, p_grace_hours integer)
  RETURNS TABLE (id uuid, status text, requested_at timestamptz, execute_after timestamptz, due_by timestamptz)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  v_ws     text := app.current_workspace();
  v_member text;
  v_tenant text;
  v_now    timestamptz := pg_catalog.clock_timestamp();
BEGIN
  IF v_ws IS NULL THEN
    RAISE EXCEPTION 'this needs a workspace scope' USING ERRCODE = 'PXS01';
  END IF;
  SELECT t.member_id INTO v_member FROM public.api_tokens t
    JOIN public.workspace_members m ON m.workspace_id = t.workspace_id AND m.id = t.member_id
   WHERE t.workspace_id = v_ws AND t.id = p_token_id AND t.secret_sha256 = p_secret_sha256 AND t.kind = 'human'
     AND m.role = 'owner' AND t.revoked_at IS NULL AND t.expires_at > pg_catalog.clock_timestamp();
  IF NOT FOUND THEN
    RAISE EXCEPTION 'erasing a workspace needs an owner''s human token' USING ERRCODE = '42501';
  END IF;
  IF p_grace_hours IS NULL OR p_grace_hours < 0 OR p_grace_hours > 72 THEN
    RAISE EXCEPTION 'the grace period is 0 to 72 hours' USING ERRCODE = 'PXV01';
  END IF;
  SELECT w.tenant_id INTO v_tenant FROM public.workspaces w WHERE w.id = v_ws;
  INSERT INTO public.workspace_erasures AS e (subject_workspace_id, tenant_id, requested_by, requested_at, execute_after, due_by)
  VALUES (v_ws, v_tenant, v_member, v_now, v_now + pg_catalog.make_interval(hours => p_grace_hours),
          v_now + interval '7 days')
  ON CONFLICT (subject_workspace_id) WHERE status <> 'cancelled' DO NOTHING;
  RETURN QUERY SELECT e.id, e.status, e.requested_at, e.execute_after, e.due_by FROM public.workspace_erasures e
   WHERE e.subject_workspace_id = v_ws AND e.status <> 'cancelled';
END $$;

-- api: an owner cancels the scope's pending erasure during its grace period. Returns whether one was cancelled.
CREATE FUNCTION public.api_cancel_workspace_erasure(p_token_id text, p_secret_sha256 text) RETURNS boolean
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_ws text := app.current_workspace();
  v_n  integer;
BEGIN
  IF v_ws IS NULL THEN
    RAISE EXCEPTION 'this needs a workspace scope' USING ERRCODE = 'PXS01';
  END IF;
  PERFORM 1 FROM public.api_tokens t
    JOIN public.workspace_members m ON m.workspace_id = t.workspace_id AND m.id = t.member_id
   WHERE t.workspace_id = v_ws AND t.id = p_token_id AND t.secret_sha256 = p_secret_sha256 AND t.kind = 'human'
     AND m.role = 'owner' AND t.revoked_at IS NULL AND t.expires_at > pg_catalog.clock_timestamp();
  IF NOT FOUND THEN
    RAISE EXCEPTION 'cancelling an erasure needs an owner''s human token' USING ERRCODE = '42501';
  END IF;
  UPDATE public.workspace_erasures e SET status = 'cancelled', cancelled_at = pg_catalog.clock_timestamp()
   WHERE e.subject_workspace_id = v_ws AND e.status = 'pending' AND e.execute_after > pg_catalog.clock_timestamp();
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n = 1;
END $$;

-- operator (praxa_owner, `praxa workspace erase`): request an erasure with a grace period of p_grace_hours (0: now).
CREATE FUNCTION public.operator_request_workspace_erasure(p_workspace_id text, p_grace_hours integer)
  RETURNS uuid
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_tenant text;
  v_id     uuid;
  v_now    timestamptz := pg_catalog.clock_timestamp();
BEGIN
  SELECT w.tenant_id INTO v_tenant FROM public.workspaces w WHERE w.id = p_workspace_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such workspace' USING ERRCODE = 'PXN01';
  END IF;
  IF p_grace_hours IS NULL OR p_grace_hours < 0 OR p_grace_hours > 72 THEN
    RAISE EXCEPTION 'the grace period is 0 to 72 hours' USING ERRCODE = 'PXV01';
  END IF;
  INSERT INTO public.workspace_erasures (subject_workspace_id, tenant_id, requested_by, requested_at, execute_after, due_by)
  VALUES (p_workspace_id, v_tenant, 'operator', v_now, v_now + pg_catalog.make_interval(hours => p_grace_hours),
          v_now + interval '7 days')
  ON CONFLICT (subject_workspace_id) WHERE status <> 'cancelled' DO NOTHING;
  SELECT e.id INTO v_id FROM public.workspace_erasures e
   WHERE e.subject_workspace_id = p_workspace_id AND e.status <> 'cancelled';
  -- An operator's "now" also brings forward an open request's grace period.
  IF p_grace_hours = 0 THEN
    UPDATE public.workspace_erasures e SET execute_after = LEAST(e.execute_after, pg_catalog.clock_timestamp())
     WHERE e.id = v_id AND e.status = 'pending';
  END IF;
  RETURN v_id;
END $$;

-- monitor: erasures to execute (pending past their grace period) or to sign (erased, no receipt yet).
CREATE FUNCTION public.lifecycle_erasures_due(p_limit integer)
  RETURNS TABLE (id uuid, workspace_id text, status text)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT e.id, e.subject_workspace_id, e.status FROM public.workspace_erasures e
   WHERE (e.status = 'pending' AND e.execute_after <= pg_catalog.clock_timestamp()) OR e.status = 'erased'
   ORDER BY e.requested_at LIMIT LEAST(GREATEST(p_limit, 1), 100)
$$;

-- monitor: erasures past their 7-day due time and not yet done (the sweep alerts the operators; once per erasure).
CREATE FUNCTION public.lifecycle_erasures_overdue()
  RETURNS TABLE (id uuid, workspace_id text, requested_at timestamptz, due_by timestamptz)
  LANGUAGE sql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  UPDATE public.workspace_erasures e SET overdue_alerted_at = pg_catalog.clock_timestamp()
   WHERE e.status IN ('pending', 'erased') AND e.due_by < pg_catalog.clock_timestamp()
     AND (e.overdue_alerted_at IS NULL OR e.overdue_alerted_at < pg_catalog.clock_timestamp() - interval '1 hour')
  RETURNING e.id, e.subject_workspace_id, e.requested_at, e.due_by
$$;

-- monitor: erase the workspace of a due request — its vault secrets, then every row of every table with a
-- workspace_id column (enumerated from the catalog now, deleted children first along the foreign keys), then the
-- workspace row. The workspace key goes with its row (workspace_keys): crypto-shredding of every sealed copy. The
-- final checkpoint (signed by the monitor just before) is recorded for the receipt. The objects under ws/<id>/ are the
-- caller's to delete first; it passes how many there were. Returns the rows deleted per table.
CREATE FUNCTION public.lifecycle_erase_workspace(p_erasure_id uuid, p_objects bigint) RETURNS jsonb
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_ws      text;
  v_counts  jsonb := '{}'::jsonb;
  v_tables  regclass[];
  v_left    regclass[];
  v_done    boolean;
  v_n       bigint;
  v_size    bigint;
  v_root    text;
  t         regclass;
BEGIN
  SELECT e.subject_workspace_id INTO v_ws FROM public.workspace_erasures e
   WHERE e.id = p_erasure_id AND e.status = 'pending' AND e.execute_after <= pg_catalog.clock_timestamp() FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no erasure of this id is due' USING ERRCODE = 'PXV01';
  END IF;
  SELECT k.tree_size, k.root_hash INTO v_size, v_root FROM public.audit_checkpoints k
   WHERE k.workspace_id = v_ws ORDER BY k.tree_size DESC LIMIT 1;

  -- Every table of ours with a workspace_id column (not the vault's: its definer function below).
  SELECT pg_catalog.array_agg(c.oid::regclass ORDER BY c.oid) INTO v_tables
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
     AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                  WHERE a.attrelid = c.oid AND a.attname = 'workspace_id' AND a.attnum > 0 AND NOT a.attisdropped);
  FOREACH t IN ARRAY v_tables LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy p WHERE p.polrelid = t AND p.polcmd = 'd'
                      AND 'praxa_lifecycle'::regrole::oid = ANY (p.polroles)) THEN
      RAISE EXCEPTION 'table % holds workspace rows but praxa_lifecycle cannot delete them (app.enable_lifecycle_access)', t
        USING ERRCODE = 'PXV01';
    END IF;
  END LOOP;

  v_n := public.lifecycle_erase_vault(v_ws);
  v_counts := v_counts || pg_catalog.jsonb_build_object('vault.secrets', v_n);

  -- Children first: a table is deleted from once no other remaining table references it.
  v_left := v_tables;
  WHILE pg_catalog.cardinality(v_left) > 0 LOOP
    v_done := false;
    FOREACH t IN ARRAY v_left LOOP
      IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k
                      WHERE k.contype = 'f' AND k.confrelid = t AND k.conrelid <> t AND k.conrelid = ANY (v_left)) THEN
        EXECUTE pg_catalog.format('DELETE FROM %s WHERE workspace_id = $1', t) USING v_ws;
        GET DIAGNOSTICS v_n = ROW_COUNT;
        v_counts := v_counts || pg_catalog.jsonb_build_object(t::text, v_n);
        v_left := pg_catalog.array_remove(v_left, t);
        v_done := true;
      END IF;
    END LOOP;
    IF NOT v_done THEN
      RAISE EXCEPTION 'the foreign keys between workspace tables form a cycle: %', v_left USING ERRCODE = 'PXV01';
    END IF;
  END LOOP;
  DELETE FROM public.workspaces w WHERE w.id = v_ws;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  v_counts := v_counts || pg_catalog.jsonb_build_object('workspaces', v_n, 'objects', COALESCE(p_objects, 0));

  UPDATE public.workspace_erasures e
     SET status = 'erased', erased_at = pg_catalog.clock_timestamp(), counts = v_counts,
         final_tree_size = v_size, final_root_hash = v_root
   WHERE e.id = p_erasure_id;
  RETURN v_counts;
END $$;

-- lifecycle_erase_workspace only: the workspace's vault secrets (the vault stays reachable by praxa_definer alone).
CREATE FUNCTION public.lifecycle_erase_vault(p_workspace_id text) RETURNS bigint
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE v_n bigint;
BEGIN
  DELETE FROM vault.secrets s WHERE s.workspace_id = p_workspace_id;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n;
END $$;

-- monitor: what the receipt states, once erased (the monitor signs it with the checkpoint key and stores it below).
CREATE FUNCTION public.lifecycle_erasure_record(p_erasure_id uuid)
  RETURNS TABLE (id uuid, workspace_id text, tenant_id text, requested_at timestamptz, erased_at timestamptz,
                 counts jsonb, final_tree_size bigint, final_root_hash text, status text)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT e.id, e.subject_workspace_id, e.tenant_id, e.requested_at, e.erased_at, e.counts, e.final_tree_size,
         e.final_root_hash, e.status
    FROM public.workspace_erasures e WHERE e.id = p_erasure_id
$$;

-- monitor: store the signed receipt of an erased workspace (once).
CREATE FUNCTION public.lifecycle_store_erasure_receipt(p_erasure_id uuid, p_receipt bytea, p_key_id text, p_signature bytea)
  RETURNS boolean
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE v_n integer;
BEGIN
  UPDATE public.workspace_erasures e
     SET status = 'receipted', receipt = p_receipt, receipt_key_id = p_key_id, receipt_signature = p_signature
   WHERE e.id = p_erasure_id AND e.status = 'erased';
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n = 1;
END $$;

-- api (no scope: the workspace and its tokens are gone) and operator: a receipt by its id — the id is the capability
-- the requester was given; the receipt carries no secret.
CREATE FUNCTION public.workspace_erasure_receipt(p_erasure_id uuid)
  RETURNS TABLE (receipt bytea, key_id text, signature bytea)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT e.receipt, e.receipt_key_id, e.receipt_signature FROM public.workspace_erasures e
   WHERE e.id = p_erasure_id AND e.status = 'receipted'
$$;

-- ── erasure of a person's data inside a workspace: redaction in place ───────────────────────────────────────────────
-- An audit event naming the person loses its stored bytes (canonical set to zero bytes, redacted_at set); its hash,
-- prev_hash, key_id and signature stay, so the chain still links and every checkpoint's root still holds, and the
-- verifier checks the redacted event's signature over its stored hash and reports it. The append-only triggers let
-- exactly that change through, for praxa_lifecycle only: any other column changed, or a redacted event changed again,
-- is refused like every UPDATE.
SET LOCAL ROLE praxa_owner;
ALTER TABLE audit_events ADD COLUMN redacted_at timestamptz;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_redacted_empty CHECK ((redacted_at IS NULL) = (pg_catalog.length(canonical) > 0));
RESET ROLE;

CREATE OR REPLACE FUNCTION app.audit_refuse_change() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_user = 'praxa_lifecycle' THEN
    RETURN NULL;
  END IF;
  -- Redaction (0033): the row trigger below decides which UPDATE of audit_events passes.
  IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'audit_events' AND current_user = 'praxa_lifecycle' THEN
    RETURN NULL;
  END IF;
  RAISE EXCEPTION 'the audit log is append-only: % refused', TG_OP USING ERRCODE = 'PXA01';
END $$;

CREATE OR REPLACE FUNCTION app.audit_refuse_row_change() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_user = 'praxa_lifecycle' THEN
    RETURN OLD;
  END IF;
  IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'audit_events' AND current_user = 'praxa_lifecycle' THEN
    -- (nested: OLD.redacted_at exists only on audit_events)
    IF OLD.redacted_at IS NULL AND NEW.redacted_at IS NOT NULL AND pg_catalog.length(NEW.canonical) = 0
       AND (pg_catalog.to_jsonb(NEW) - 'canonical' - 'redacted_at') = (pg_catalog.to_jsonb(OLD) - 'canonical' - 'redacted_at') THEN
      RETURN NEW;
    END IF;
  END IF;
  RAISE EXCEPTION 'the audit log is append-only: % of a row of % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'PXA01';
END $$;

CREATE POLICY audit_events_lifecycle_redact ON audit_events AS PERMISSIVE FOR UPDATE TO praxa_lifecycle USING (true) WITH CHECK (true);
GRANT UPDATE (canonical, redacted_at) ON audit_events TO praxa_lifecycle;
CREATE POLICY agent_runs_lifecycle_redact ON agent_runs AS PERMISSIVE FOR UPDATE TO praxa_lifecycle USING (true) WITH CHECK (true);
GRANT UPDATE (input) ON agent_runs TO praxa_lifecycle;

-- operator (praxa_owner, `praxa workspace redact-person`) and api (an owner's request): erase a person — a GitHub login
-- or a Slack user id — from a workspace: the audit events whose bytes name them (as a JSON string "<subject>" or an
-- "@<subject>" mention) are redacted in place, the memory facts naming them deleted, and the runs whose input names them
-- keep their row with the input emptied. Returns the seqs redacted and the counts.
CREATE FUNCTION public.lifecycle_redact_person(p_workspace_id text, p_subject text) RETURNS jsonb
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_quoted bytea;
  v_mention bytea;
  v_seqs   bigint[];
  v_facts  bigint;
  v_runs   bigint;
BEGIN
  IF p_subject IS NULL OR p_subject !~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$' THEN
    RAISE EXCEPTION 'a person is a GitHub login or a Slack user id' USING ERRCODE = 'PXV01';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM public.workspaces w WHERE w.id = p_workspace_id) THEN
    RAISE EXCEPTION 'no such workspace' USING ERRCODE = 'PXN01';
  END IF;
  v_quoted := pg_catalog.convert_to('"' || p_subject || '"', 'UTF8');
  v_mention := pg_catalog.convert_to('@' || p_subject, 'UTF8');
  WITH r AS (
    UPDATE public.audit_events e SET canonical = ''::bytea, redacted_at = pg_catalog.clock_timestamp()
     WHERE e.workspace_id = p_workspace_id AND e.redacted_at IS NULL
       AND (pg_catalog.position(e.canonical, v_quoted) > 0 OR pg_catalog.position(e.canonical, v_mention) > 0)
    RETURNING e.seq)
  SELECT COALESCE(pg_catalog.array_agg(r.seq ORDER BY r.seq), '{}') INTO v_seqs FROM r;
  DELETE FROM public.memory_facts f WHERE f.workspace_id = p_workspace_id
     AND (f.key = p_subject OR pg_catalog.strpos(f.value::text, '"' || p_subject || '"') > 0
          OR pg_catalog.strpos(f.value::text, '@' || p_subject) > 0);
  GET DIAGNOSTICS v_facts = ROW_COUNT;
  UPDATE public.agent_runs a SET input = '{}'::jsonb WHERE a.workspace_id = p_workspace_id AND a.input <> '{}'::jsonb
     AND (pg_catalog.strpos(a.input::text, '"' || p_subject || '"') > 0 OR pg_catalog.strpos(a.input::text, '@' || p_subject) > 0);
  GET DIAGNOSTICS v_runs = ROW_COUNT;
  RETURN pg_catalog.jsonb_build_object('redacted_seqs', pg_catalog.to_jsonb(v_seqs), 'memory_facts', v_facts,
                                       'run_inputs', v_runs);
END $$;

-- ── export (GDPR): a job the monitor runs, an archive in the object store ────────────────────────────────────────────
SET LOCAL ROLE praxa_owner;
CREATE TABLE workspace_exports (
  workspace_id   text NOT NULL REFERENCES workspaces(id),
  id             uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
  requested_by   text NOT NULL CHECK (length(requested_by) BETWEEN 1 AND 200),
  requested_at   timestamptz NOT NULL DEFAULT now(),
  status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done', 'failed')),
  claimed_at     timestamptz,
  finished_at    timestamptz,
  object_prefix  text CHECK (object_prefix IS NULL OR object_prefix LIKE 'ws/' || workspace_id || '/exports/%'),
  error_code     text CHECK (error_code ~ '^[A-Z][A-Z0-9_]{1,63}$')
);
CREATE INDEX workspace_exports_pending ON workspace_exports (requested_at) WHERE status IN ('pending', 'running');
SELECT app.enable_tenant_rls('workspace_exports');
GRANT SELECT ON workspace_exports TO praxa_api;
GRANT SELECT, INSERT, UPDATE ON workspace_exports TO praxa_definer;
GRANT SELECT ON skill_feedback, skill_versions, skills, workspace_members, agent_runs, audit_retention_cuts TO praxa_definer;
RESET ROLE;

-- api: an owner or admin (human token, re-checked) asks for the scope's workspace to be exported.
CREATE FUNCTION public.api_request_workspace_export(p_token_id text, p_secret_sha256 text)
  RETURNS TABLE (id uuid, requested_at timestamptz)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE v_member text := app.check_admin_token(p_token_id, p_secret_sha256, true);
BEGIN
  RETURN QUERY INSERT INTO public.workspace_exports AS x (workspace_id, requested_by)
    VALUES (app.current_workspace(), v_member) RETURNING x.id, x.requested_at;
END $$;

-- operator (praxa_owner, `praxa workspace export`): the same, for any workspace.
CREATE FUNCTION public.operator_request_workspace_export(p_workspace_id text) RETURNS uuid
  LANGUAGE sql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$ INSERT INTO public.workspace_exports (workspace_id, requested_by) VALUES (p_workspace_id, 'operator') RETURNING id $$;

-- monitor: claim the oldest pending export (or one whose claim is 15 minutes stale).
CREATE FUNCTION public.lifecycle_claim_export() RETURNS TABLE (id uuid, workspace_id text)
  LANGUAGE sql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  UPDATE public.workspace_exports x SET status = 'running', claimed_at = pg_catalog.clock_timestamp()
   WHERE x.id = (SELECT y.id FROM public.workspace_exports y
                  WHERE y.status = 'pending' OR (y.status = 'running' AND y.claimed_at < pg_catalog.clock_timestamp() - interval '15 minutes')
                  ORDER BY y.requested_at LIMIT 1 FOR UPDATE SKIP LOCKED)
  RETURNING x.id, x.workspace_id
$$;

-- The workspace of a running export (the monitor reads a workspace's data only for an export it claimed).
CREATE FUNCTION app.running_export_workspace(p_export_id uuid) RETURNS text
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE v_ws text;
BEGIN
  SELECT x.workspace_id INTO v_ws FROM public.workspace_exports x WHERE x.id = p_export_id AND x.status = 'running';
  IF v_ws IS NULL THEN
    RAISE EXCEPTION 'no running export of this id' USING ERRCODE = 'PXV01';
  END IF;
  RETURN v_ws;
END $$;

-- monitor: the export's data: settings, members, Skills and their versions, runs, feedback (never a secret, a token
-- hash or a sealed value).
CREATE FUNCTION public.lifecycle_export_data(p_export_id uuid) RETURNS jsonb
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE v_ws text := app.running_export_workspace(p_export_id);
BEGIN
  RETURN pg_catalog.jsonb_build_object(
    'workspace', (SELECT pg_catalog.jsonb_build_object('id', w.id, 'tenant_id', w.tenant_id, 'name', w.name,
                    'audit_retention_days', w.audit_retention_days, 'run_retention_days', w.run_retention_days,
                    'audit_redaction', w.audit_redaction, 'created_at', w.created_at)
                    FROM public.workspaces w WHERE w.id = v_ws),
    'members', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('id', m.id, 'email', m.email,
                    'display_name', m.display_name, 'role', m.role, 'created_at', m.created_at) ORDER BY m.id)
                    FROM public.workspace_members m WHERE m.workspace_id = v_ws), '[]'),
    'skills', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(k) ORDER BY k.id)
                    FROM public.skills k WHERE k.workspace_id = v_ws), '[]'),
    'skill_versions', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(v) ORDER BY v.skill_id, v.version)
                    FROM public.skill_versions v WHERE v.workspace_id = v_ws), '[]'),
    'runs', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('id', r.id, 'skill_id', r.skill_id,
                    'skill_version_id', r.skill_version_id, 'parent_run_id', r.parent_run_id, 'trigger', r.trigger,
                    'source', r.source, 'input', r.input, 'status', r.status, 'skip_reason', r.skip_reason,
                    'error_code', r.error_code, 'failure_class', r.failure_class, 'retry_of', r.retry_of,
                    'attempt', r.attempt, 'created_at', r.created_at, 'started_at', r.started_at,
                    'finished_at', r.finished_at) ORDER BY r.created_at, r.id)
                    FROM public.agent_runs r WHERE r.workspace_id = v_ws), '[]'),
    'feedback', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('run_id', f.run_id,
                    'skill_id', f.skill_id, 'verdict', f.verdict, 'source', f.source, 'actor_id', f.actor_id,
                    'actor_is_bot', f.actor_is_bot, 'created_at', f.created_at) ORDER BY f.id)
                    FROM public.skill_feedback f WHERE f.workspace_id = v_ws), '[]'));
END $$;

-- monitor: the export's audit log, a page at a time (seq > p_after), as stored.
CREATE FUNCTION public.lifecycle_export_audit(p_export_id uuid, p_after bigint, p_limit integer)
  RETURNS TABLE (seq bigint, workspace_id text, prev_hash text, hash text, key_id text, signature text, canonical bytea)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT e.seq, e.workspace_id, e.prev_hash, e.hash, e.key_id, e.signature, e.canonical FROM public.audit_events e
   WHERE e.workspace_id = app.running_export_workspace(p_export_id) AND e.seq > p_after
   ORDER BY e.seq LIMIT LEAST(GREATEST(p_limit, 1), 10000)
$$;

-- monitor: the export's checkpoints and retention cuts.
CREATE FUNCTION public.lifecycle_export_checkpoints(p_export_id uuid)
  RETURNS TABLE (workspace_id text, tree_size bigint, root_hash text, "timestamp" timestamptz, key_id text, signature bytea, body bytea)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT k.workspace_id, k.tree_size, k.root_hash, k."timestamp", k.key_id, k.signature, k.body FROM public.audit_checkpoints k
   WHERE k.workspace_id = app.running_export_workspace(p_export_id) ORDER BY k.tree_size
$$;
CREATE FUNCTION public.lifecycle_export_cuts(p_export_id uuid)
  RETURNS TABLE (from_seq bigint, through_seq bigint, leaf_hashes bytea, cut_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT c.from_seq, c.through_seq, c.leaf_hashes, c.cut_at FROM public.audit_retention_cuts c
   WHERE c.workspace_id = app.running_export_workspace(p_export_id) ORDER BY c.from_seq
$$;

-- monitor: the export is written (its objects under p_prefix) or failed (a code, never a message).
CREATE FUNCTION public.lifecycle_finish_export(p_export_id uuid, p_prefix text, p_error_code text) RETURNS boolean
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE v_n integer;
BEGIN
  UPDATE public.workspace_exports x
     SET status = CASE WHEN p_error_code IS NULL THEN 'done' ELSE 'failed' END, finished_at = pg_catalog.clock_timestamp(),
         object_prefix = p_prefix, error_code = p_error_code
   WHERE x.id = p_export_id AND x.status = 'running';
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n = 1;
END $$;

-- Ownership: the functions that delete run as praxa_lifecycle; the others as praxa_definer.
DO $$
DECLARE f text;
BEGIN
  FOREACH f IN ARRAY ARRAY[
    'public.lifecycle_retention_bound(text)', 'public.lifecycle_retention_due(integer)',
    'public.lifecycle_apply_retention(text, bigint)', 'public.lifecycle_apply_run_retention(text, integer)',
    'public.lifecycle_run_retention_due(integer)', 'public.lifecycle_redact_person(text, text)',
    'public.lifecycle_erase_workspace(uuid, bigint)'] LOOP
    EXECUTE pg_catalog.format('ALTER FUNCTION %s OWNER TO praxa_lifecycle', f);
    EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
  FOREACH f IN ARRAY ARRAY[
    'public.api_request_workspace_erasure(text, text, integer)', 'public.api_cancel_workspace_erasure(text, text)',
    'public.operator_request_workspace_erasure(text, integer)', 'public.lifecycle_erasures_due(integer)',
    'public.lifecycle_erasures_overdue()', 'public.lifecycle_erase_vault(text)', 'public.lifecycle_erasure_record(uuid)',
    'public.lifecycle_store_erasure_receipt(uuid, bytea, text, bytea)', 'public.workspace_erasure_receipt(uuid)',
    'public.api_request_workspace_export(text, text)', 'public.operator_request_workspace_export(text)',
    'public.lifecycle_claim_export()', 'app.running_export_workspace(uuid)', 'public.lifecycle_export_data(uuid)',
    'public.lifecycle_export_audit(uuid, bigint, integer)', 'public.lifecycle_export_checkpoints(uuid)',
    'public.lifecycle_export_cuts(uuid)', 'public.lifecycle_finish_export(uuid, text, text)'] LOOP
    EXECUTE pg_catalog.format('ALTER FUNCTION %s OWNER TO praxa_definer', f);
    EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
END $$;

GRANT EXECUTE ON FUNCTION public.lifecycle_retention_bound(text) TO praxa_lifecycle;
GRANT EXECUTE ON FUNCTION public.lifecycle_erase_vault(text) TO praxa_lifecycle;
GRANT EXECUTE ON FUNCTION public.lifecycle_retention_due(integer) TO praxa_monitor;
GRANT EXECUTE ON FUNCTION public.lifecycle_apply_retention(text, bigint) TO praxa_monitor;
GRANT EXECUTE ON FUNCTION public.lifecycle_apply_run_retention(text, integer) TO praxa_monitor;
GRANT EXECUTE ON FUNCTION public.lifecycle_run_retention_due(integer) TO praxa_monitor;
GRANT EXECUTE ON FUNCTION public.lifecycle_erasures_due(integer) TO praxa_monitor;
GRANT EXECUTE ON FUNCTION public.lifecycle_erasures_overdue() TO praxa_monitor;
GRANT EXECUTE ON FUNCTION public.lifecycle_erase_workspace(uuid, bigint) TO praxa_monitor;
GRANT EXECUTE ON FUNCTION public.lifecycle_erasure_record(uuid) TO praxa_monitor;
GRANT EXECUTE ON FUNCTION public.lifecycle_store_erasure_receipt(uuid, bytea, text, bytea) TO praxa_monitor;
GRANT EXECUTE ON FUNCTION public.api_request_workspace_erasure(text, text, integer) TO praxa_api;
GRANT EXECUTE ON FUNCTION public.api_cancel_workspace_erasure(text, text) TO praxa_api;
GRANT EXECUTE ON FUNCTION public.workspace_erasure_receipt(uuid) TO praxa_api, praxa_monitor;
GRANT EXECUTE ON FUNCTION public.operator_request_workspace_erasure(text, integer) TO praxa_owner;
GRANT EXECUTE ON FUNCTION public.lifecycle_redact_person(text, text) TO praxa_owner;
GRANT EXECUTE ON FUNCTION public.api_request_workspace_export(text, text) TO praxa_api;
GRANT EXECUTE ON FUNCTION public.operator_request_workspace_export(text) TO praxa_owner;
GRANT EXECUTE ON FUNCTION public.lifecycle_claim_export() TO praxa_monitor;
GRANT EXECUTE ON FUNCTION public.lifecycle_export_data(uuid) TO praxa_monitor;
GRANT EXECUTE ON FUNCTION public.lifecycle_export_audit(uuid, bigint, integer) TO praxa_monitor;
GRANT EXECUTE ON FUNCTION public.lifecycle_export_checkpoints(uuid) TO praxa_monitor;
GRANT EXECUTE ON FUNCTION public.lifecycle_export_cuts(uuid) TO praxa_monitor;
GRANT EXECUTE ON FUNCTION public.lifecycle_finish_export(uuid, text, text) TO praxa_monitor;
