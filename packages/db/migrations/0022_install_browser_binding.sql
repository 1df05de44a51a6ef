-- Install links bound to the browser that started them (security review, issue 16, finding 1). The Slack and GitHub
-- install callbacks are browser redirects without an api token; the state alone used to be their credential, so an
-- admin of workspace A could send the link to a victim who, installing the genuine app, connected their Slack team or
-- GitHub org to A.
--   * oauth_states.binding_sha256: SHA-256 (hex) of the nonce the install-start route set in the member's browser as
--     the `__Host-praxa_install` cookie (HttpOnly, Secure, SameSite=Lax). The callback consumes a state only when the
--     cookie it carries hashes to this value; a state without one (issued before this migration) is never consumed.
--   * integrations.status 'pending_confirmation': what the callback records. Nothing routes to it — ingest, the
--     feedback functions, notification_secret and the worker all require 'active' — until the member who installed
--     confirms the installing account (GitHub account / Slack team) from the same browser:
--     integrations.confirm_binding_sha256 (the same nonce's hash) and confirm_by (the deadline) say who may, until when;
--     both are cleared on confirmation.
SET LOCAL ROLE praxa_owner;

ALTER TABLE oauth_states ADD COLUMN binding_sha256 text CHECK (binding_sha256 ~ '^[0-9a-f]{64}$');

ALTER TABLE integrations DROP CONSTRAINT integrations_status_check;
ALTER TABLE integrations ADD CONSTRAINT integrations_status_check
  CHECK (status IN ('active', 'suspended', 'revoked', 'pending_confirmation'));
ALTER TABLE integrations ADD COLUMN confirm_binding_sha256 text CHECK (confirm_binding_sha256 ~ '^[0-9a-f]{64}$');
ALTER TABLE integrations ADD COLUMN confirm_by timestamptz;
ALTER TABLE integrations ADD CONSTRAINT integrations_pending_is_bound
  CHECK (status <> 'pending_confirmation' OR (confirm_binding_sha256 IS NOT NULL AND confirm_by IS NOT NULL AND installed_by IS NOT NULL));
GRANT UPDATE (confirm_binding_sha256, confirm_by) ON integrations TO praxa_api;

RESET ROLE;

-- ingest: a pending installation is an unknown one (intake also requires 'active'; this keeps it so for any caller).
-- Same signature, owner and grants as 0003's.
CREATE OR REPLACE FUNCTION public.ingest_resolve_installation(p_source text, p_external_id text)
  RETURNS TABLE (workspace_id text, integration_id text, status text, bot_identity jsonb)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT i.workspace_id, i.id, i.status, i.bot_identity
    FROM public.integrations i
   WHERE i.provider = p_source AND i.external_id = p_external_id AND i.status <> 'pending_confirmation'
$$;
ALTER FUNCTION public.ingest_resolve_installation(text, text) OWNER TO praxa_definer;
