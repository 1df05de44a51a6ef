-- workspace_keys_for_run also returns each key's public half: opening a workspace key checks the unwrapped private
-- half against it (and the wrap's AAD binds it). Same rules as before: worker only, for a run it holds.
DROP FUNCTION public.workspace_keys_for_run(text, uuid);
CREATE FUNCTION public.workspace_keys_for_run(p_run_id text, p_token uuid)
  RETURNS TABLE (key_id text, status text, public_key bytea, wrapped_private_key bytea, tenant_id text, tenant_key_id text,
                 tenant_wrapped_key bytea, kms_key_ref text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE v_ws text := app.check_run_lease(p_run_id, p_token);
BEGIN
  RETURN QUERY
    SELECT k.key_id, k.status, k.public_key, k.wrapped_private_key, t.tenant_id, t.key_id, t.wrapped_key, t.kms_key_ref
      FROM public.workspace_keys k JOIN public.tenant_keys t ON t.key_id = k.tenant_key_id
     WHERE k.workspace_id = v_ws AND k.status <> 'destroyed'
     ORDER BY k.created_at DESC;
END $$;
ALTER FUNCTION public.workspace_keys_for_run(text, uuid) OWNER TO praxa_definer;
REVOKE ALL ON FUNCTION public.workspace_keys_for_run(text, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.workspace_keys_for_run(text, uuid) TO praxa_worker;
