-- The console's sign-in (issue #24; docs/decisions/0006-console-sessions.md).
--
--   * A console session IS a short-lived `human` api token (at most 12 hours), minted at sign-in for the member the
--     IdP's subject (or, the first time, its verified email) maps to. The api keeps it server-side as the token's row
--     (hashed secret, expiry, revocation); the browser holds it only inside an HttpOnly, Secure, SameSite=Strict
--     `__Host-` cookie. Every route and every definer re-check (app.check_admin_token, api_resume_skill) then sees a
--     human token of that member, with that member's role — nothing new to trust.
--   * member_identities binds an IdP (issuer, subject) to a member, once: the first sign-in matches the member by the
--     verified email and records the subject; later sign-ins match by subject only (an email changed at the IdP does
--     not move the identity to another member).
--   * console_sign_ins holds an OIDC sign-in in flight (PKCE verifier, nonce, by the SHA-256 of its state) until the
--     callback consumes it, in the workspace's scope.
--   * console_sign_in_links: `praxa console login` (never in production) — a single-use link, valid minutes, minted by
--     the operator (praxa_owner), consumed by the api once.

SET LOCAL ROLE praxa_owner;

CREATE TABLE member_identities (
  workspace_id  text NOT NULL REFERENCES workspaces(id),
  issuer        text NOT NULL CHECK (length(issuer) BETWEEN 8 AND 512),
  subject       text NOT NULL CHECK (length(subject) BETWEEN 1 AND 255),
  member_id     text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, issuer, subject),
  UNIQUE (workspace_id, issuer, member_id),
  FOREIGN KEY (workspace_id, member_id) REFERENCES workspace_members (workspace_id, id)
);
SELECT app.enable_tenant_rls('member_identities');
GRANT SELECT ON member_identities TO praxa_api;

CREATE TABLE console_sign_ins (
  workspace_id   text NOT NULL REFERENCES workspaces(id),
  state_sha256   text NOT NULL PRIMARY KEY CHECK (state_sha256 ~ '^[0-9a-f]{64}$'),
  code_verifier  text NOT NULL CHECK (length(code_verifier) BETWEEN 43 AND 128),
  nonce          text NOT NULL CHECK (length(nonce) BETWEEN 16 AND 128),
  return_to      text NOT NULL DEFAULT '/' CHECK (return_to ~ '^/[^/\\]' OR return_to = '/'),
  expires_at     timestamptz NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX console_sign_ins_expiry ON console_sign_ins (workspace_id, expires_at);
SELECT app.enable_tenant_rls('console_sign_ins');
GRANT SELECT, INSERT, DELETE ON console_sign_ins TO praxa_api;

CREATE TABLE console_sign_in_links (
  workspace_id   text NOT NULL REFERENCES workspaces(id),
  id             text NOT NULL PRIMARY KEY CHECK (id ~ '^sl_[0-9a-f]{32}$'),
  member_id      text NOT NULL,
  secret_sha256  text NOT NULL CHECK (secret_sha256 ~ '^[0-9a-f]{64}$'),
  expires_at     timestamptz NOT NULL,
  used_at        timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (workspace_id, member_id) REFERENCES workspace_members (workspace_id, id)
);
SELECT app.enable_tenant_rls('console_sign_in_links');
RESET ROLE;

GRANT SELECT, INSERT ON member_identities TO praxa_definer;
GRANT SELECT, INSERT, UPDATE ON console_sign_in_links TO praxa_definer;

-- The session token shared by both sign-ins: a human token of the member named `console`, expiring within 12 hours
-- (and within the operator's maximum for human tokens).
CREATE FUNCTION app.mint_console_token(p_ws text, p_member_id text, p_token_id text, p_secret_sha256 text,
                                       p_expires_at timestamptz)
  RETURNS timestamptz
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE v_expires timestamptz;
BEGIN
  IF p_expires_at > clock_timestamp() + interval '12 hours 1 minute' THEN
    RAISE EXCEPTION 'a console session lasts at most 12 hours' USING ERRCODE = 'PXV01';
  END IF;
  v_expires := app.check_token_expiry('human', p_expires_at);
  INSERT INTO public.api_tokens (workspace_id, id, member_id, kind, name, secret_sha256, expires_at)
  VALUES (p_ws, p_token_id, p_member_id, 'human', 'console', p_secret_sha256, v_expires);
  RETURN v_expires;
END $$;

-- api: an OIDC sign-in, in the workspace's scope. The member is the one bound to (issuer, subject); failing that, the
-- one whose email is the IdP's verified email, which binds the subject to it. No member: PXN01 (the api answers a
-- refusal that does not say which).
CREATE FUNCTION public.api_console_sign_in(p_issuer text, p_subject text, p_email text, p_email_verified boolean,
                                           p_token_id text, p_secret_sha256 text, p_expires_at timestamptz)
  RETURNS TABLE (member_id text, role text, expires_at timestamptz)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  v_ws text := app.current_workspace();
  v_member text;
  v_role text;
BEGIN
  IF v_ws IS NULL THEN
    RAISE EXCEPTION 'sign-in needs a workspace scope' USING ERRCODE = 'PXS01';
  END IF;
  SELECT i.member_id INTO v_member FROM public.member_identities i
   WHERE i.workspace_id = v_ws AND i.issuer = p_issuer AND i.subject = p_subject;
  IF v_member IS NULL AND p_email_verified AND p_email IS NOT NULL THEN
    SELECT m.id INTO v_member FROM public.workspace_members m
     WHERE m.workspace_id = v_ws AND lower(m.email) = lower(p_email)
       AND NOT EXISTS (SELECT 1 FROM public.member_identities i
                        WHERE i.workspace_id = v_ws AND i.issuer = p_issuer AND i.member_id = m.id);
    IF v_member IS NOT NULL THEN
      INSERT INTO public.member_identities (workspace_id, issuer, subject, member_id)
      VALUES (v_ws, p_issuer, p_subject, v_member);
    END IF;
  END IF;
  IF v_member IS NULL THEN
    RAISE EXCEPTION 'no member for this identity' USING ERRCODE = 'PXN01';
  END IF;
  SELECT m.role INTO v_role FROM public.workspace_members m WHERE m.workspace_id = v_ws AND m.id = v_member;
  RETURN QUERY SELECT v_member, v_role, app.mint_console_token(v_ws, v_member, p_token_id, p_secret_sha256, p_expires_at);
END $$;

-- api: a sign-in link (praxa console login), in the workspace's scope: consumed once, before it expires.
CREATE FUNCTION public.api_console_link_sign_in(p_link_id text, p_link_secret_sha256 text, p_token_id text,
                                                p_secret_sha256 text, p_expires_at timestamptz)
  RETURNS TABLE (member_id text, role text, expires_at timestamptz)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  v_ws text := app.current_workspace();
  v_member text;
  v_role text;
BEGIN
  IF v_ws IS NULL THEN
    RAISE EXCEPTION 'sign-in needs a workspace scope' USING ERRCODE = 'PXS01';
  END IF;
  UPDATE public.console_sign_in_links l SET used_at = clock_timestamp()
   WHERE l.workspace_id = v_ws AND l.id = p_link_id AND l.secret_sha256 = p_link_secret_sha256
     AND l.used_at IS NULL AND l.expires_at > clock_timestamp()
  RETURNING l.member_id INTO v_member;
  IF v_member IS NULL THEN
    RAISE EXCEPTION 'no such sign-in link' USING ERRCODE = 'PXN01';
  END IF;
  SELECT m.role INTO v_role FROM public.workspace_members m WHERE m.workspace_id = v_ws AND m.id = v_member;
  RETURN QUERY SELECT v_member, v_role, app.mint_console_token(v_ws, v_member, p_token_id, p_secret_sha256, p_expires_at);
END $$;

-- api: sign out — the session's own token, presented by its secret's hash, is revoked (nothing it minted: a console
-- token mints through api_mint_automation_token, whose tokens outlive the session by design, and are listed).
CREATE FUNCTION public.api_console_sign_out(p_token_id text, p_secret_sha256 text)
  RETURNS boolean
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_ws text := app.current_workspace();
  v_n integer;
BEGIN
  IF v_ws IS NULL THEN
    RAISE EXCEPTION 'sign-out needs a workspace scope' USING ERRCODE = 'PXS01';
  END IF;
  UPDATE public.api_tokens t SET revoked_at = clock_timestamp()
   WHERE t.workspace_id = v_ws AND t.id = p_token_id AND t.secret_sha256 = p_secret_sha256 AND t.kind = 'human'
     AND t.name = 'console' AND t.revoked_at IS NULL;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n = 1;
END $$;

-- operator (CLI `praxa console login`, refused in production by the CLI and by the api's link route): a single-use
-- sign-in link for a member, valid at most 15 minutes.
CREATE FUNCTION public.admin_console_sign_in_link(p_workspace_id text, p_link_id text, p_member_id text,
                                                  p_secret_sha256 text, p_expires_at timestamptz)
  RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_expires_at <= clock_timestamp() OR p_expires_at > clock_timestamp() + interval '15 minutes' THEN
    RAISE EXCEPTION 'a sign-in link expires within 15 minutes' USING ERRCODE = 'PXV01';
  END IF;
  INSERT INTO public.console_sign_in_links (workspace_id, id, member_id, secret_sha256, expires_at)
  VALUES (p_workspace_id, p_link_id, p_member_id, p_secret_sha256, p_expires_at);
END $$;

DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN
    SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
      JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     WHERE p.prosecdef AND n.nspname IN ('public', 'app')
       AND p.proname IN ('mint_console_token', 'api_console_sign_in', 'api_console_link_sign_in',
                         'api_console_sign_out', 'admin_console_sign_in_link')
  LOOP
    EXECUTE pg_catalog.format('ALTER FUNCTION %s OWNER TO praxa_definer', f);
    EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
END $$;

GRANT EXECUTE ON FUNCTION public.api_console_sign_in(text, text, text, boolean, text, text, timestamptz) TO praxa_api;
GRANT EXECUTE ON FUNCTION public.api_console_link_sign_in(text, text, text, text, timestamptz) TO praxa_api;
GRANT EXECUTE ON FUNCTION public.api_console_sign_out(text, text) TO praxa_api;
GRANT EXECUTE ON FUNCTION public.admin_console_sign_in_link(text, text, text, text, timestamptz) TO praxa_owner;
-- app.mint_console_token is called only from inside the definer functions above.
