-- Checkpoints in time proportional to the events since the previous one (issue #6, found while measuring appends).
-- A checkpoint's root is the RFC 9162 Merkle root over every event hash of the chain, and signing one read the whole
-- chain again each time: every N appends, a workspace with a million events had its million hashes read. The tree's
-- compact frontier — the roots of the perfect subtrees its size's binary digits describe, at most 63 hashes — is all
-- it takes to extend it, so each checkpoint now stores its frontier, and the next one extends the latest checkpoint's
-- frontier with the events after it (packages/db/src/audit.ts).
--
-- The database keeps a stored frontier honest: it must hold one 32-byte hash per 1-bit of tree_size and fold (from the
-- right, SHA-256(0x01 ‖ left ‖ right)) to the checkpoint's root_hash, the value the checkpoint's signature covers. A
-- frontier is a fact about the signed root, never a second, unsigned claim. Checkpoints from before this migration
-- have none; the first checkpoint after them reads the chain once more.
SET LOCAL ROLE praxa_owner;
ALTER TABLE audit_checkpoints ADD COLUMN frontier bytea CHECK (frontier IS NULL OR pg_catalog.length(frontier) % 32 = 0);
-- Those who sign checkpoints (worker: every N appends; monitor: time-based) read where the latest one left the tree.
GRANT SELECT (workspace_id, tree_size, frontier) ON audit_checkpoints TO praxa_worker, praxa_monitor;
RESET ROLE;

DROP FUNCTION public.audit_insert_checkpoint(bigint, text, timestamptz, text, bytea, bytea);

-- worker, monitor, api: record a signed checkpoint of the scope's chain (at most its current head) with its frontier.
CREATE FUNCTION public.audit_insert_checkpoint(p_tree_size bigint, p_root_hash text, p_timestamp timestamptz, p_key_id text,
                                               p_signature bytea, p_body bytea, p_frontier bytea)
  RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_ws    text := app.current_workspace();
  v_head  bigint;
  v_nodes integer;
  v_root  bytea;
BEGIN
  IF v_ws IS NULL THEN
    RAISE EXCEPTION 'checkpoints need a workspace scope' USING ERRCODE = 'PXS01';
  END IF;
  SELECT h.seq INTO v_head FROM public.audit_chain_heads h WHERE h.workspace_id = v_ws;
  IF v_head IS NULL OR p_tree_size IS NULL OR p_tree_size < 1 OR p_tree_size > v_head THEN
    RAISE EXCEPTION 'a checkpoint cannot cover events that do not exist' USING ERRCODE = 'PXV01';
  END IF;
  v_nodes := pg_catalog.length(pg_catalog.replace((p_tree_size::bit(64))::text, '0', ''));
  IF p_frontier IS NULL OR pg_catalog.length(p_frontier) <> 32 * v_nodes THEN
    RAISE EXCEPTION 'a frontier holds one 32-byte hash per 1-bit of the tree size' USING ERRCODE = 'PXV01';
  END IF;
  v_root := pg_catalog.substr(p_frontier, 32 * (v_nodes - 1) + 1, 32);
  FOR i IN REVERSE v_nodes - 1 .. 1 LOOP
    v_root := pg_catalog.sha256('\x01'::bytea || pg_catalog.substr(p_frontier, 32 * (i - 1) + 1, 32) || v_root);
  END LOOP;
  IF p_root_hash IS DISTINCT FROM pg_catalog.encode(v_root, 'hex') THEN
    RAISE EXCEPTION 'the frontier does not fold to the checkpoint''s root' USING ERRCODE = 'PXV01';
  END IF;
  INSERT INTO public.audit_checkpoints (workspace_id, tree_size, root_hash, "timestamp", key_id, signature, body, frontier)
  VALUES (v_ws, p_tree_size, p_root_hash, p_timestamp, p_key_id, p_signature, p_body, p_frontier)
  ON CONFLICT (workspace_id, tree_size) DO NOTHING;
END $$;

ALTER FUNCTION public.audit_insert_checkpoint(bigint, text, timestamptz, text, bytea, bytea, bytea) OWNER TO praxa_definer;
REVOKE ALL ON FUNCTION public.audit_insert_checkpoint(bigint, text, timestamptz, text, bytea, bytea, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.audit_insert_checkpoint(bigint, text, timestamptz, text, bytea, bytea, bytea) TO praxa_worker, praxa_monitor, praxa_api;
