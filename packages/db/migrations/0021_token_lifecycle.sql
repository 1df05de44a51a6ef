-- Api tokens: who minted them, a maximum lifetime, and revocation (review issue #16, finding 3: "automation tokens
-- renew themselves, cannot be revoked").
--
--   * Minting through the api needs a live HUMAN token of an owner or admin, re-checked here from its secret's hash
--     (app.check_admin_token, as api_resume_skill does): an automation token can no longer mint its own successor.
--     The new token acts as the minter's member and records `minted_by` (the minting token's id).
--   * A maximum lifetime per kind, set by the operator in `api_token_lifetimes` (defaults: automation 90 days, human
--     365) and enforced by both mint functions, whatever the caller computed.
--   * `api_revoke_token` revokes a token and, recursively, every token it minted, in one statement; a human admin
--     token revokes any token of its workspace, an automation token only itself. The operator lists and revokes
--     through `admin_list_tokens` / `admin_revoke_token` (CLI `praxa tokens list|revoke`). The api loses its direct UPDATE of
--     `revoked_at`: revocation goes through the function (and its audit events) or nowhere.
-- A revoked or expired token authenticates nowhere: api_authenticate and app.check_admin_token already require
-- `revoked_at IS NULL AND expires_at > clock_timestamp()`.

SET LOCAL ROLE praxa_owner;

ALTER TABLE api_tokens ADD COLUMN minted_by text;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_minted_by_fkey FOREIGN KEY (workspace_id, minted_by) REFERENCES api_tokens (workspace_id, id);
CREATE INDEX api_tokens_minted_by ON api_tokens (workspace_id, minted_by) WHERE minted_by IS NOT NULL;
GRANT SELECT (minted_by) ON api_tokens TO praxa_api;
REVOKE UPDATE (revoked_at) ON api_tokens FROM praxa_api;

-- The operator's maximum lifetime of a token, per kind (a platform setting: no workspace, no app role reads it).
CREATE TABLE api_token_lifetimes (
  kind        text PRIMARY KEY CHECK (kind IN ('human', 'automation')),
  max_days    integer NOT NULL CHECK (max_days BETWEEN 1 AND 366),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO api_token_lifetimes (kind, max_days) VALUES ('automation', 90), ('human', 365);
SELECT app.enable_platform_rls('api_token_lifetimes');
GRANT SELECT, UPDATE ON api_token_lifetimes TO praxa_definer;
RESET ROLE;

-- The lifetime check shared by the mint functions: in the future, and no later than the kind's maximum from now
-- (plus one minute for the caller's clock, which computed the expiry a moment before this statement ran). No expiry
-- asked for: the maximum. Returns the expiry to record.
CREATE FUNCTION app.check_token_expiry(p_kind text, p_expires_at timestamptz) RETURNS timestamptz
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE v_days integer;
BEGIN
  SELECT l.max_days INTO v_days FROM public.api_token_lifetimes l WHERE l.kind = p_kind;
  IF v_days IS NULL THEN
    RAISE EXCEPTION 'no maximum lifetime is set for % tokens', p_kind USING ERRCODE = 'PXV01';
  END IF;
  IF p_expires_at IS NULL THEN
    RETURN clock_timestamp() + make_interval(days => v_days);
  END IF;
  IF p_expires_at <= clock_timestamp() OR p_expires_at > clock_timestamp() + make_interval(days => v_days) + interval '1 minute' THEN
    RAISE EXCEPTION 'a % token expires within % days', p_kind, v_days USING ERRCODE = 'PXV01';
  END IF;
  RETURN p_expires_at;
END $$;

-- api: mint an automation token. The minter presents its own token (id + SHA-256 of its secret), re-checked here: live,
-- of the scope's workspace, human, its member an owner or admin. The new token acts as that member. No expiry asked
-- for: the operator's maximum. Returns the member and the expiry recorded.
DROP FUNCTION public.api_mint_automation_token(text, text, text, text, timestamptz);
CREATE FUNCTION public.api_mint_automation_token(p_token_id text, p_name text, p_secret_sha256 text, p_expires_at timestamptz,
                                                 p_minter_token_id text, p_minter_secret_sha256 text)
  RETURNS TABLE (member_id text, expires_at timestamptz)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  v_ws text := app.current_workspace();
  v_member text;
  v_expires timestamptz;
BEGIN
  IF v_ws IS NULL THEN
    RAISE EXCEPTION 'minting needs a workspace scope' USING ERRCODE = 'PXS01';
  END IF;
  -- Lock the minter's row first: a revocation of the minter waits for this mint to commit, and then finds (and
  -- revokes) the token minted here; a mint after a revocation (even one still in flight) is refused below.
  PERFORM 1 FROM public.api_tokens t WHERE t.workspace_id = v_ws AND t.id = p_minter_token_id FOR SHARE;
  v_member := app.check_admin_token(p_minter_token_id, p_minter_secret_sha256, true);
  v_expires := app.check_token_expiry('automation', p_expires_at);
  INSERT INTO public.api_tokens (workspace_id, id, member_id, kind, name, secret_sha256, expires_at, minted_by)
  VALUES (v_ws, p_token_id, v_member, 'automation', p_name, p_secret_sha256, v_expires, p_minter_token_id);
  RETURN QUERY SELECT v_member, v_expires;
END $$;

-- operator (CLI): mint a human token, within the human maximum lifetime.
CREATE OR REPLACE FUNCTION public.admin_mint_human_token(p_workspace_id text, p_token_id text, p_member_id text, p_name text,
                                                         p_secret_sha256 text, p_expires_at timestamptz)
  RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  INSERT INTO public.api_tokens (workspace_id, id, member_id, kind, name, secret_sha256, expires_at)
  VALUES (p_workspace_id, p_token_id, p_member_id, 'human', p_name, p_secret_sha256, app.check_token_expiry('human', p_expires_at));
END $$;

-- Revoke a token of a workspace and every token it minted (recursively), as one statement; the target's row is locked
-- first (a mint by it waits, or is refused once this commits). Returns what this call revoked (none if the target
-- was revoked already); PXN01 if the workspace has no such token. Shared by the api's and the operator's functions.
CREATE FUNCTION app.revoke_token_tree(p_workspace_id text, p_target_id text)
  RETURNS TABLE (token_id text, member_id text, kind text, minted_by text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
  PERFORM 1 FROM public.api_tokens t WHERE t.workspace_id = p_workspace_id AND t.id = p_target_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'token not found' USING ERRCODE = 'PXN01';
  END IF;
  RETURN QUERY
    WITH RECURSIVE tree (id) AS (
      SELECT p_target_id
      UNION
      SELECT c.id FROM public.api_tokens c JOIN tree ON c.minted_by = tree.id WHERE c.workspace_id = p_workspace_id
    )
    UPDATE public.api_tokens t SET revoked_at = clock_timestamp()
      FROM tree
     WHERE t.workspace_id = p_workspace_id AND t.id = tree.id AND t.revoked_at IS NULL
    RETURNING t.id, t.member_id, t.kind, t.minted_by;
END $$;

-- api: revoke a token of the scope's workspace and what it minted. The caller's token is re-checked from its hash: an
-- owner's or admin's, live; a human one revokes any token, an automation one only itself.
CREATE FUNCTION public.api_revoke_token(p_target_id text, p_token_id text, p_secret_sha256 text)
  RETURNS TABLE (token_id text, member_id text, kind text, minted_by text, revoked_by text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  v_ws text := app.current_workspace();
  v_member text;
  v_kind text;
BEGIN
  v_member := app.check_admin_token(p_token_id, p_secret_sha256, false);
  SELECT t.kind INTO v_kind FROM public.api_tokens t WHERE t.workspace_id = v_ws AND t.id = p_token_id;
  IF v_kind IS DISTINCT FROM 'human' AND p_target_id IS DISTINCT FROM p_token_id THEN
    RAISE EXCEPTION 'an automation token revokes only itself; revoking another token needs a human admin token' USING ERRCODE = '42501';
  END IF;
  RETURN QUERY SELECT r.token_id, r.member_id, r.kind, r.minted_by, v_member FROM app.revoke_token_tree(v_ws, p_target_id) r;
END $$;

-- operator (CLI `praxa tokens revoke`): revoke a token of a workspace and what it minted.
CREATE FUNCTION public.admin_revoke_token(p_workspace_id text, p_target_id text)
  RETURNS TABLE (token_id text, member_id text, kind text, minted_by text)
  LANGUAGE sql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM app.revoke_token_tree(p_workspace_id, p_target_id) $$;

-- operator (CLI `praxa tokens list`): a workspace's tokens — never the secret's hash.
CREATE FUNCTION public.admin_list_tokens(p_workspace_id text)
  RETURNS TABLE (id text, name text, kind text, member_id text, role text, created_at timestamptz, expires_at timestamptz,
                 minted_by text, revoked_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT t.id, t.name, t.kind, t.member_id, m.role, t.created_at, t.expires_at, t.minted_by, t.revoked_at
    FROM public.api_tokens t
    JOIN public.workspace_members m ON m.workspace_id = t.workspace_id AND m.id = t.member_id
   WHERE t.workspace_id = p_workspace_id
   ORDER BY t.created_at DESC, t.id DESC
$$;

-- operator (CLI `praxa tokens max-lifetime`): set a kind's maximum lifetime. Tokens minted before keep their expiry.
CREATE FUNCTION public.admin_set_token_max_days(p_kind text, p_max_days integer) RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  UPDATE public.api_token_lifetimes SET max_days = p_max_days, updated_at = clock_timestamp() WHERE kind = p_kind;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such token kind' USING ERRCODE = 'PXV01';
  END IF;
END $$;

ALTER FUNCTION app.check_token_expiry(text, timestamptz) OWNER TO praxa_definer;
ALTER FUNCTION public.admin_set_token_max_days(text, integer) OWNER TO praxa_definer;
REVOKE ALL ON FUNCTION public.admin_set_token_max_days(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.admin_set_token_max_days(text, integer) TO praxa_owner;
ALTER FUNCTION public.api_mint_automation_token(text, text, text, timestamptz, text, text) OWNER TO praxa_definer;
ALTER FUNCTION public.api_revoke_token(text, text, text) OWNER TO praxa_definer;
ALTER FUNCTION app.revoke_token_tree(text, text) OWNER TO praxa_definer;
ALTER FUNCTION public.admin_revoke_token(text, text) OWNER TO praxa_definer;
ALTER FUNCTION public.admin_list_tokens(text) OWNER TO praxa_definer;
REVOKE ALL ON FUNCTION app.revoke_token_tree(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.admin_revoke_token(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.admin_list_tokens(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.admin_revoke_token(text, text) TO praxa_owner;
GRANT EXECUTE ON FUNCTION public.admin_list_tokens(text) TO praxa_owner;
REVOKE ALL ON FUNCTION app.check_token_expiry(text, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.api_mint_automation_token(text, text, text, timestamptz, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.api_revoke_token(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.api_mint_automation_token(text, text, text, timestamptz, text, text) TO praxa_api;
GRANT EXECUTE ON FUNCTION public.api_revoke_token(text, text, text) TO praxa_api;
