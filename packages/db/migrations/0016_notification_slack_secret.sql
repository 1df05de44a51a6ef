-- A Slack notification posts as the workspace's Slack bot, whose sealed record the OAuth install stores under
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
