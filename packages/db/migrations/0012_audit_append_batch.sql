-- Audit appends in one call (issue #6, performance). `audit_append_events` locks the scope's chain head, reads the
-- workspace's redaction policy and inserts a whole batch of sealed events in ONE round trip — when the caller already
-- knows the head and the policy (from its previous append). When it does not (first append, another appender got in
-- first, the customer changed the policy), it inserts nothing and answers the head and the policy to seal against;
-- the head stays locked by the caller's transaction, so the second call cannot be overtaken. The database still
-- checks everything: the workspace is the scope's, never an argument; the batch must continue the head (seq and
-- prev_hash); each hash is recomputed from the stored bytes; the bytes must parse to a record naming this workspace,
-- this seq and this prev_hash; the indexed columns are taken from those bytes, so they cannot disagree with what
-- was signed; (run, step, kind) stays unique. audit_lock_head / audit_append_event (0005) stay as they were.
--
-- The query api (GET /v1/audit/events) pages by seq: `… AND skill_id = $1 AND seq > $after ORDER BY seq LIMIT n`.
-- The skill and trigger indexes of 0005 were ordered by occurred_at, so such a page read every event of the skill
-- and sorted them; (workspace_id, skill_id, seq) and (workspace_id, trigger, seq) answer it with one index range.
-- A page by run reads the run's few events through the (run, step, kind) unique index and sorts them, so
-- audit_events_run_idx only cost every append one more index entry.
--
-- The id's TypeID check called app.is_typeid, an SQL function that cannot be inlined (it pins its search_path): its
-- body was parsed and planned again for every INSERT statement. The same pattern, written inline, says the same.
SET LOCAL ROLE praxa_owner;
DROP INDEX audit_events_skill_idx;
DROP INDEX audit_events_trigger_idx;
DROP INDEX audit_events_run_idx;
CREATE INDEX audit_events_skill_seq_idx ON audit_events (workspace_id, skill_id, seq);
CREATE INDEX audit_events_trigger_seq_idx ON audit_events (workspace_id, trigger, seq);
ALTER TABLE audit_events DROP CONSTRAINT audit_events_id_check,
  ADD CONSTRAINT audit_events_id_check CHECK (id OPERATOR(pg_catalog.~) '^ae_[0-7][0-9a-hjkmnp-tv-z]{25}$');
RESET ROLE;

-- worker, monitor, api. p_seq / p_prev_hash: where the caller placed its first event; p_policy_digest: the digest of
-- the redaction policy it redacted with (as this function returned it); p_hashes, p_signatures, p_canonical: the
-- sealed events in order (p_canonical as text: the RFC 8785 JSON, stored as its UTF-8 bytes). An empty batch only
-- locks the head and answers it. Returns how many events were appended (0: none, seal against the head returned),
-- the head after the call, the policy digest, and the policy itself when the caller's digest was not the current one.
CREATE FUNCTION public.audit_append_events(p_seq bigint, p_prev_hash text, p_policy_digest text,
    p_hashes text[], p_signatures text[], p_canonical text[])
  RETURNS TABLE (appended integer, head_seq bigint, head_hash text, policy_digest text, policy jsonb)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_ws      text := app.current_workspace();
  v_n       integer := coalesce(pg_catalog.cardinality(p_canonical), 0);
  v_policy  jsonb;
  v_digest  text;
  v_seq     bigint;
  v_head    text;
  v_prev    text;
  v_hash    text;
  v_bytes   bytea[] := '{}';
  v_bodies  jsonb[] := '{}';
  v_body    jsonb;
BEGIN
  IF v_ws IS NULL THEN
    RAISE EXCEPTION 'audit appends need a workspace scope' USING ERRCODE = 'PXS01';
  END IF;
  SELECT w.audit_redaction INTO v_policy FROM public.workspaces w WHERE w.id = v_ws;
  v_digest := pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(v_policy::text, 'UTF8')), 'hex');

  IF v_n > 0 AND p_policy_digest = v_digest AND p_seq IS NOT NULL AND p_prev_hash IS NOT NULL THEN
    -- The batch is checked before the head is locked, against where the caller placed it (the lock then confirms
    -- that place): each hash recomputed from the bytes, each record naming this workspace, its seq and prev_hash.
    IF pg_catalog.array_ndims(p_canonical) <> 1 OR pg_catalog.array_lower(p_canonical, 1) <> 1
       OR pg_catalog.array_ndims(p_hashes) IS DISTINCT FROM 1 OR pg_catalog.array_lower(p_hashes, 1) IS DISTINCT FROM 1
       OR pg_catalog.cardinality(p_hashes) <> v_n
       OR pg_catalog.array_ndims(p_signatures) IS DISTINCT FROM 1 OR pg_catalog.array_lower(p_signatures, 1) IS DISTINCT FROM 1
       OR pg_catalog.cardinality(p_signatures) <> v_n THEN
      RAISE EXCEPTION 'hashes, signatures and canonical bytes must be three lists of one length' USING ERRCODE = 'PXV01';
    END IF;
    v_prev := p_prev_hash;
    FOR i IN 1 .. v_n LOOP
      v_hash := p_hashes[i];
      v_bytes[i] := pg_catalog.convert_to(p_canonical[i], 'UTF8');
      IF v_hash IS NULL OR p_signatures[i] IS NULL OR v_bytes[i] IS NULL OR p_prev_hash !~ '^[0-9a-f]{64}$'
         OR v_hash <> pg_catalog.encode(pg_catalog.sha256(pg_catalog.decode(v_prev, 'hex') || v_bytes[i]), 'hex') THEN
        RAISE EXCEPTION 'the hash does not match the canonical bytes' USING ERRCODE = 'PXV01';
      END IF;
      v_body := p_canonical[i]::jsonb;
      IF (v_body ->> 'workspace_id') IS DISTINCT FROM v_ws OR (v_body -> 'seq') IS DISTINCT FROM pg_catalog.to_jsonb(p_seq + i - 1)
         OR (v_body ->> 'prev_hash') IS DISTINCT FROM v_prev OR (v_body ->> 'key_id') IS NULL THEN
        RAISE EXCEPTION 'the canonical bytes do not name this workspace, seq and prev_hash' USING ERRCODE = 'PXV01';
      END IF;
      v_bodies[i] := v_body;
      v_prev := v_hash;
    END LOOP;
  END IF;

  -- Lock the head (waiting for a concurrent appender to finish, then reading what it left).
  SELECT h.seq, h.head_hash INTO v_seq, v_head FROM public.audit_chain_heads h WHERE h.workspace_id = v_ws FOR UPDATE;
  IF NOT FOUND THEN
    -- The workspace's first event: its chain starts at the genesis hash, which binds the workspace id.
    INSERT INTO public.audit_chain_heads (workspace_id, seq, head_hash)
    VALUES (v_ws, 0, pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to('praxa/audit/v1/genesis|' || v_ws, 'UTF8')), 'hex'))
    ON CONFLICT (workspace_id) DO NOTHING;
    SELECT h.seq, h.head_hash INTO v_seq, v_head FROM public.audit_chain_heads h WHERE h.workspace_id = v_ws FOR UPDATE;
  END IF;

  IF pg_catalog.cardinality(v_bodies) <> v_n OR v_n = 0 OR p_seq <> v_seq + 1 OR p_prev_hash <> v_head THEN
    -- Nothing appended: the caller seals against this head (and this policy) and calls again.
    RETURN QUERY SELECT 0, v_seq, v_head, v_digest, CASE WHEN p_policy_digest IS DISTINCT FROM v_digest THEN v_policy END;
    RETURN;
  END IF;
  v_prev := v_head;
  FOR i IN 1 .. v_n LOOP
    v_body := v_bodies[i];
    INSERT INTO public.audit_events (workspace_id, seq, id, kind, skill_id, run_id, step, trigger, occurred_at, prev_hash,
                                     hash, key_id, signature, canonical)
    VALUES (v_ws, v_seq + i, v_body ->> 'auditEventId', v_body ->> 'kind', v_body ->> 'skillId', v_body ->> 'runId',
            (v_body ->> 'step')::integer, v_body ->> 'trigger', (v_body ->> 'occurred_at')::timestamptz, v_prev, p_hashes[i],
            v_body ->> 'key_id', p_signatures[i], v_bytes[i]);
    v_prev := p_hashes[i];
  END LOOP;
  UPDATE public.audit_chain_heads SET seq = v_seq + v_n, head_hash = v_prev, updated_at = pg_catalog.clock_timestamp()
   WHERE workspace_id = v_ws;
  RETURN QUERY SELECT v_n, v_seq + v_n, v_prev, v_digest, NULL::jsonb;
END $$;

ALTER FUNCTION public.audit_append_events(bigint, text, text, text[], text[], text[]) OWNER TO praxa_definer;
REVOKE ALL ON FUNCTION public.audit_append_events(bigint, text, text, text[], text[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.audit_append_events(bigint, text, text, text[], text[], text[]) TO praxa_worker, praxa_monitor, praxa_api;
