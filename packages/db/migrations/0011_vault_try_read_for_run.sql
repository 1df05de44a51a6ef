-- A read that answers "absent" with no row instead of an error: a cache lookup (the sealed installation token) must
-- not abort the worker's transaction when the entry does not exist yet. Same rules as vault_read_for_run.
CREATE FUNCTION public.vault_try_read_for_run(p_run_id text, p_token uuid, p_name text)
  RETURNS TABLE (ciphertext bytea, key_id text, provider text, purpose text, expires_at timestamptz)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE v_ws text := app.check_run_lease(p_run_id, p_token);
BEGIN
  RETURN QUERY SELECT s.ciphertext, s.key_id, s.provider, s.purpose, s.expires_at
                 FROM vault.secrets s WHERE s.workspace_id = v_ws AND s.name = p_name;
END $$;
ALTER FUNCTION public.vault_try_read_for_run(text, uuid, text) OWNER TO praxa_definer;
REVOKE ALL ON FUNCTION public.vault_try_read_for_run(text, uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.vault_try_read_for_run(text, uuid, text) TO praxa_worker;
