-- SIEM streams (issue #23): the audit table is the outbox; a subscription is a cursor (the last seq its endpoint
-- acknowledged with a 2xx) and a lease. A worker claims a subscription (one holder at a time, whatever the number of
-- processes: the lease is this row's, fenced by a token and checked against now()), records the batch it is about to
-- send (from, to, webhook-id) BEFORE sending it — so a retry, or another worker after a crash, resends exactly that
-- batch under the same webhook-id — and advances the cursor only on a 2xx. Its secrets (the Ed25519 signing key, an
-- optional whsec_, a Splunk token or a Datadog key) are sealed to the workspace key by the api and opened by the worker
-- under the lease, as a notification's are (0014).
SET LOCAL ROLE praxa_owner;

CREATE TABLE siem_subscriptions (
  workspace_id           text NOT NULL REFERENCES workspaces(id),
  id                     text PRIMARY KEY CHECK (app.is_typeid(id, 'ss')),
  endpoint_url           text NOT NULL CHECK (length(endpoint_url) BETWEEN 8 AND 2048 AND endpoint_url ~ '^https?://'),
  format                 text NOT NULL CHECK (format IN ('jsonl', 'splunk-hec', 'datadog')),
  status                 text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'disabled', 'deleted')),
  status_reason          text CHECK (status_reason ~ '^[A-Z][A-Z0-9_]{1,63}$'),
  batch_max_events       integer NOT NULL DEFAULT 1000 CHECK (batch_max_events BETWEEN 1 AND 1000),
  batch_max_bytes        integer NOT NULL DEFAULT 1048576 CHECK (batch_max_bytes BETWEEN 4096 AND 1048576),
  -- Signing keys: generation n's Ed25519 private key (and whsec_, when v1 is on) are the vault secrets
  -- `siem/<id>/ed25519/<n>` and `siem/<id>/hmac/<n>`; during a rotation's overlap generation n-1 signs too.
  key_generation         integer NOT NULL DEFAULT 1 CHECK (key_generation >= 1),
  public_key             text NOT NULL CHECK (public_key ~ '^whpk_[A-Za-z0-9+/]{43}=$'),
  previous_public_key    text CHECK (previous_public_key ~ '^whpk_[A-Za-z0-9+/]{43}=$'),
  previous_until         timestamptz,
  hmac_enabled           boolean NOT NULL DEFAULT false,
  -- The format's credential (Splunk token, Datadog key): vault `siem/<id>/credential`; its last four characters here.
  credential_fingerprint text CHECK (length(credential_fingerprint) = 4),
  cursor_seq             bigint NOT NULL DEFAULT 0 CHECK (cursor_seq >= 0),
  inflight_from          bigint,
  inflight_to            bigint,
  inflight_webhook_id    text CHECK (length(inflight_webhook_id) BETWEEN 1 AND 200),
  lease_token            uuid,
  lease_holder           text,
  lease_expires_at       timestamptz,
  failures               integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
  failing_since          timestamptz,
  next_attempt_at        timestamptz NOT NULL DEFAULT now(),
  last_error_code        text CHECK (last_error_code ~ '^[A-Z][A-Z0-9_]{1,63}$'),
  last_status            integer,
  last_delivered_at      timestamptz,
  test_requested_at      timestamptz,
  last_test_at           timestamptz,
  last_test_result       text CHECK (last_test_result ~ '^[A-Z0-9_]{1,64}$'),
  created_by             text NOT NULL,
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, id),
  FOREIGN KEY (workspace_id, created_by) REFERENCES workspace_members (workspace_id, id),
  CHECK ((inflight_from IS NULL) = (inflight_to IS NULL) AND (inflight_from IS NULL) = (inflight_webhook_id IS NULL)),
  CHECK (inflight_from IS NULL OR (inflight_from > cursor_seq AND inflight_to >= inflight_from)),
  CHECK ((lease_token IS NULL) = (lease_expires_at IS NULL)),
  CHECK ((previous_public_key IS NULL) = (previous_until IS NULL)),
  CHECK ((format = 'jsonl') = (credential_fingerprint IS NULL))
);
CREATE INDEX siem_subscriptions_due_idx ON siem_subscriptions (next_attempt_at) WHERE status = 'active';
SELECT app.enable_tenant_rls('siem_subscriptions');

-- The api manages subscriptions in its scope (create, pause, resume, delete, rotate, ask for a test); it never moves
-- the cursor, the in-flight batch or the lease: those are the worker's, through the functions below.
GRANT SELECT, INSERT ON siem_subscriptions TO praxa_api;
GRANT UPDATE (status, status_reason, key_generation, public_key, previous_public_key, previous_until, failures,
              failing_since, next_attempt_at, test_requested_at, updated_at) ON siem_subscriptions TO praxa_api;
GRANT SELECT, UPDATE ON siem_subscriptions TO praxa_definer;
RESET ROLE;

-- The lease check shared by the worker's functions: the subscription is leased with this token, in the caller's
-- workspace scope, and the lease is not past now(). Returns the workspace and the status (the caller decides whether
-- a paused or deleted subscription may still record what it already did).
CREATE FUNCTION app.check_siem_lease(p_id text, p_token uuid, OUT ws text, OUT status text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_token uuid;
  v_expires timestamptz;
BEGIN
  SELECT s.workspace_id, s.status, s.lease_token, s.lease_expires_at INTO ws, status, v_token, v_expires
    FROM public.siem_subscriptions s WHERE s.id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'subscription not found' USING ERRCODE = 'PXN01';
  END IF;
  IF ws IS DISTINCT FROM app.current_workspace() THEN
    RAISE EXCEPTION 'the subscription is not in the workspace of this scope' USING ERRCODE = 'PXS01';
  END IF;
  IF v_token IS DISTINCT FROM p_token OR v_expires <= clock_timestamp() THEN
    RAISE EXCEPTION 'lease lost' USING ERRCODE = 'PXL01';
  END IF;
END $$;

-- worker: claim a subscription by id, outside any scope (the workspace comes from the row). Only an active one whose
-- next attempt is due and whose lease is free or expired; anything else returns no row. The answer is everything the
-- delivery needs but its secrets.
CREATE FUNCTION public.siem_claim(p_id text, p_holder text, p_lease_seconds integer)
  RETURNS TABLE (workspace_id text, endpoint_url text, format text, batch_max_events integer, batch_max_bytes integer,
                 key_generation integer, previous_signing boolean, hmac_enabled boolean, cursor_seq bigint,
                 inflight_from bigint, inflight_to bigint, inflight_webhook_id text, lease_token uuid,
                 lease_expires_at timestamptz, failures integer, failing_since timestamptz, test_requested boolean)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
  IF p_lease_seconds IS NULL OR p_lease_seconds < 2 OR p_lease_seconds > 600 THEN
    RAISE EXCEPTION 'lease must be between 2 and 600 seconds' USING ERRCODE = 'PXV01';
  END IF;
  RETURN QUERY
    WITH claimed AS (
      UPDATE public.siem_subscriptions s
         SET lease_token = gen_random_uuid(), lease_holder = p_holder,
             lease_expires_at = clock_timestamp() + make_interval(secs => p_lease_seconds), updated_at = clock_timestamp()
       WHERE s.id = p_id AND s.status = 'active' AND s.next_attempt_at <= clock_timestamp()
         AND (s.lease_token IS NULL OR s.lease_expires_at <= clock_timestamp())
      RETURNING s.*)
    SELECT c.workspace_id, c.endpoint_url, c.format, c.batch_max_events, c.batch_max_bytes, c.key_generation,
           (c.previous_until IS NOT NULL AND c.previous_until > clock_timestamp()), c.hmac_enabled, c.cursor_seq,
           c.inflight_from, c.inflight_to, c.inflight_webhook_id, c.lease_token, c.lease_expires_at, c.failures,
           c.failing_since, c.test_requested_at IS NOT NULL
      FROM claimed c;
END $$;

-- worker: extend the lease before each send; answers how many milliseconds it now has (by the database's clock), so
-- the worker bounds the request by it: a request never outlives the lease it was sent under. Refused (PXL01) when the
-- lease was lost or the subscription is no longer active (paused, disabled or deleted by the api).
CREATE FUNCTION public.siem_renew(p_id text, p_token uuid, p_lease_seconds integer) RETURNS bigint
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE l record;
BEGIN
  IF p_lease_seconds IS NULL OR p_lease_seconds < 2 OR p_lease_seconds > 600 THEN
    RAISE EXCEPTION 'lease must be between 2 and 600 seconds' USING ERRCODE = 'PXV01';
  END IF;
  SELECT * INTO l FROM app.check_siem_lease(p_id, p_token);
  IF l.status <> 'active' THEN
    RAISE EXCEPTION 'the subscription is no longer active' USING ERRCODE = 'PXL01';
  END IF;
  UPDATE public.siem_subscriptions
     SET lease_expires_at = clock_timestamp() + make_interval(secs => p_lease_seconds), updated_at = clock_timestamp()
   WHERE id = p_id;
  RETURN (p_lease_seconds * 1000)::bigint;
END $$;

-- worker, under the lease: the stored audit records after the cursor, in seq order — exactly the signed, hash-chained
-- rows (seq, prev_hash, hash, key_id, signature and the canonical bytes), of the subscription's workspace only.
CREATE FUNCTION public.siem_read_events(p_id text, p_token uuid, p_after_seq bigint, p_limit integer)
  RETURNS TABLE (seq bigint, workspace_id text, prev_hash text, hash text, key_id text, signature text, canonical bytea,
                 occurred_at timestamptz)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  l record;
  v_cursor bigint;
BEGIN
  SELECT * INTO l FROM app.check_siem_lease(p_id, p_token);
  SELECT s.cursor_seq INTO v_cursor FROM public.siem_subscriptions s WHERE s.id = p_id;
  IF p_after_seq IS NULL OR p_after_seq < v_cursor THEN
    RAISE EXCEPTION 'reads start at the cursor' USING ERRCODE = 'PXV01';
  END IF;
  RETURN QUERY
    SELECT e.seq, e.workspace_id, e.prev_hash, e.hash, e.key_id, e.signature, e.canonical, e.occurred_at
      FROM public.audit_events e
     WHERE e.workspace_id = l.ws AND e.seq > p_after_seq
     ORDER BY e.seq
     LIMIT LEAST(GREATEST(p_limit, 1), 1000);
END $$;

-- worker, under the lease, before sending: record the batch (from, to, webhook-id). An in-flight batch already
-- recorded must be the one resent: another range or id is refused.
CREATE FUNCTION public.siem_begin_batch(p_id text, p_token uuid, p_from bigint, p_to bigint, p_webhook_id text)
  RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  l record;
  s public.siem_subscriptions%ROWTYPE;
BEGIN
  SELECT * INTO l FROM app.check_siem_lease(p_id, p_token);
  IF l.status <> 'active' THEN
    RAISE EXCEPTION 'the subscription is no longer active' USING ERRCODE = 'PXL01';
  END IF;
  SELECT * INTO s FROM public.siem_subscriptions x WHERE x.id = p_id;
  IF s.inflight_from IS NOT NULL THEN
    IF (s.inflight_from, s.inflight_to, s.inflight_webhook_id) IS DISTINCT FROM (p_from, p_to, p_webhook_id) THEN
      RAISE EXCEPTION 'another batch is in flight: resend it first' USING ERRCODE = 'PXV01';
    END IF;
    RETURN;
  END IF;
  IF p_from IS NULL OR p_to IS NULL OR p_from <= s.cursor_seq OR p_to < p_from THEN
    RAISE EXCEPTION 'a batch starts after the cursor' USING ERRCODE = 'PXV01';
  END IF;
  UPDATE public.siem_subscriptions
     SET inflight_from = p_from, inflight_to = p_to, inflight_webhook_id = p_webhook_id, updated_at = clock_timestamp()
   WHERE id = p_id;
END $$;

-- worker, under the lease: the endpoint answered 2xx for the in-flight batch — the cursor moves to its end, the
-- failure streak ends. Recorded even if the api paused the subscription meanwhile (the endpoint has the batch).
CREATE FUNCTION public.siem_ack(p_id text, p_token uuid, p_to bigint, p_status integer) RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  l record;
  s public.siem_subscriptions%ROWTYPE;
BEGIN
  SELECT * INTO l FROM app.check_siem_lease(p_id, p_token);
  SELECT * INTO s FROM public.siem_subscriptions x WHERE x.id = p_id;
  IF s.inflight_to IS DISTINCT FROM p_to THEN
    RAISE EXCEPTION 'only the batch in flight can be acknowledged' USING ERRCODE = 'PXV01';
  END IF;
  UPDATE public.siem_subscriptions
     SET cursor_seq = GREATEST(cursor_seq, p_to), inflight_from = NULL, inflight_to = NULL, inflight_webhook_id = NULL,
         failures = 0, failing_since = NULL, last_error_code = NULL, last_status = p_status,
         last_delivered_at = clock_timestamp(), updated_at = clock_timestamp()
   WHERE id = p_id;
END $$;

-- worker, under the lease: the test delivery the api asked for was attempted (its outcome: an HTTP status or a code).
CREATE FUNCTION public.siem_test_done(p_id text, p_token uuid, p_result text) RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM app.check_siem_lease(p_id, p_token);
  UPDATE public.siem_subscriptions
     SET test_requested_at = NULL, last_test_at = clock_timestamp(), last_test_result = p_result,
         updated_at = clock_timestamp()
   WHERE id = p_id;
END $$;

-- worker, under the lease: done for now (caught up, or its budget spent); the lease is released.
CREATE FUNCTION public.siem_release(p_id text, p_token uuid) RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM app.check_siem_lease(p_id, p_token);
  UPDATE public.siem_subscriptions
     SET lease_token = NULL, lease_holder = NULL, lease_expires_at = NULL, updated_at = clock_timestamp()
   WHERE id = p_id;
END $$;

-- worker, under the lease: the subscription's sealed secrets (signing keys of the current generation and, during a
-- rotation's overlap, the previous one; the whsec_; the format's credential). Ciphertext only.
CREATE FUNCTION public.siem_secrets(p_id text, p_token uuid)
  RETURNS TABLE (name text, ciphertext bytea, key_id text, provider text, purpose text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  l record;
  s public.siem_subscriptions%ROWTYPE;
  v_names text[];
BEGIN
  SELECT * INTO l FROM app.check_siem_lease(p_id, p_token);
  SELECT * INTO s FROM public.siem_subscriptions x WHERE x.id = p_id;
  v_names := ARRAY['siem/' || p_id || '/ed25519/' || s.key_generation, 'siem/' || p_id || '/hmac/' || s.key_generation,
                   'siem/' || p_id || '/credential'];
  IF s.previous_until IS NOT NULL AND s.previous_until > clock_timestamp() THEN
    v_names := v_names || ARRAY['siem/' || p_id || '/ed25519/' || (s.key_generation - 1),
                                'siem/' || p_id || '/hmac/' || (s.key_generation - 1)];
  END IF;
  RETURN QUERY SELECT v.name, v.ciphertext, v.key_id, v.provider, v.purpose
                 FROM vault.secrets v WHERE v.workspace_id = l.ws AND v.name = ANY (v_names)
                ORDER BY v.name;
END $$;

-- worker, under the lease: the workspace's key material to open those secrets with (cf. notification_workspace_keys).
CREATE FUNCTION public.siem_workspace_keys(p_id text, p_token uuid)
  RETURNS TABLE (key_id text, status text, public_key bytea, wrapped_private_key bytea, tenant_id text, tenant_key_id text,
                 tenant_wrapped_key bytea, kms_key_ref text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE l record;
BEGIN
  SELECT * INTO l FROM app.check_siem_lease(p_id, p_token);
  RETURN QUERY
    SELECT k.key_id, k.status, k.public_key, k.wrapped_private_key, t.tenant_id, t.key_id, t.wrapped_key, t.kms_key_ref
      FROM public.workspace_keys k JOIN public.tenant_keys t ON t.key_id = k.tenant_key_id
     WHERE k.workspace_id = l.ws AND k.status <> 'destroyed'
     ORDER BY k.created_at DESC;
END $$;

-- monitor: subscriptions with work due (events past the cursor, a batch in flight, or a test asked for), active, their
-- next attempt due and no live lease — across workspaces, the longest-waiting first. The sweep enqueues one job each.
CREATE FUNCTION public.monitor_siem_due(p_limit integer)
  RETURNS TABLE (subscription_id text, workspace_id text)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT s.id, s.workspace_id FROM public.siem_subscriptions s
    LEFT JOIN public.audit_chain_heads h ON h.workspace_id = s.workspace_id
   WHERE s.status = 'active' AND s.next_attempt_at <= clock_timestamp()
     AND (s.lease_token IS NULL OR s.lease_expires_at <= clock_timestamp())
     AND (COALESCE(h.seq, 0) > s.cursor_seq OR s.inflight_from IS NOT NULL OR s.test_requested_at IS NOT NULL)
   ORDER BY s.next_attempt_at
   LIMIT LEAST(GREATEST(p_limit, 1), 10000)
$$;

-- Retention (issue #22, wired at merge): the lowest seq not yet acknowledged by any existing (active or paused)
-- subscription of the workspace — events from it on must not be deleted without telling the customer first — or NULL
-- when no such subscription exists.
CREATE FUNCTION app.siem_retention_floor(p_workspace_id text) RETURNS bigint
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT min(s.cursor_seq) + 1 FROM public.siem_subscriptions s
   WHERE s.workspace_id = p_workspace_id AND s.status IN ('active', 'paused')
$$;

DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN
    SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
      JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     WHERE p.prosecdef AND n.nspname IN ('public', 'app')
       AND p.proname IN ('check_siem_lease', 'siem_claim', 'siem_renew', 'siem_read_events', 'siem_begin_batch',
                         'siem_ack', 'siem_test_done', 'siem_fail', 'siem_release', 'siem_secrets',
                         'siem_workspace_keys', 'monitor_siem_due', 'siem_retention_floor')
  LOOP
    EXECUTE pg_catalog.format('ALTER FUNCTION %s OWNER TO praxa_definer', f);
    EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
END $$;

GRANT EXECUTE ON FUNCTION public.siem_claim(text, text, integer) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.siem_renew(text, uuid, integer) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.siem_read_events(text, uuid, bigint, integer) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.siem_begin_batch(text, uuid, bigint, bigint, text) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.siem_ack(text, uuid, bigint, integer) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.siem_test_done(text, uuid, text) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.siem_release(text, uuid) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.siem_secrets(text, uuid) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.siem_workspace_keys(text, uuid) TO praxa_worker;
GRANT EXECUTE ON FUNCTION public.monitor_siem_due(integer) TO praxa_monitor;
-- The lifecycle sweep runs in the monitor (issue #22); app.check_siem_lease runs only inside the functions above.
GRANT EXECUTE ON FUNCTION app.siem_retention_floor(text) TO praxa_monitor;

-- ── A disabled stream tells the workspace (the notification outbox of 0014, reused) ─────────────────────────────
-- A notification is now about a paused / resumed Skill (skill and pause set, as before) or about a SIEM subscription
-- the worker disabled (`siem.disabled`: the subscription and the reason set, no skill). One per enabled channel of the
-- workspace, inserted by siem_fail in the transaction that disables; the monitor's outbox reconciler enqueues them and
-- a worker delivers them under a lease exactly as before.
SET LOCAL ROLE praxa_owner;
ALTER TABLE notifications ALTER COLUMN skill_id DROP NOT NULL;
ALTER TABLE notifications ALTER COLUMN pause_id DROP NOT NULL;
ALTER TABLE notifications ADD COLUMN siem_subscription_id text;
ALTER TABLE notifications ADD COLUMN siem_reason text CHECK (siem_reason ~ '^[A-Z][A-Z0-9_]{1,63}$');
ALTER TABLE notifications DROP CONSTRAINT notifications_event_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_event_check
  CHECK (event IN ('skill.paused', 'skill.resumed', 'siem.disabled'));
ALTER TABLE notifications ADD CONSTRAINT notifications_subject CHECK (
  CASE WHEN event = 'siem.disabled'
       THEN siem_subscription_id IS NOT NULL AND siem_reason IS NOT NULL AND skill_id IS NULL AND pause_id IS NULL
       ELSE skill_id IS NOT NULL AND pause_id IS NOT NULL AND siem_subscription_id IS NULL END);
ALTER TABLE notifications ADD CONSTRAINT notifications_siem_subscription_fk
  FOREIGN KEY (workspace_id, siem_subscription_id) REFERENCES siem_subscriptions (workspace_id, id);
GRANT SELECT ON notification_channels TO praxa_definer;
GRANT SELECT, INSERT, UPDATE ON notifications TO praxa_definer;
RESET ROLE;

DROP FUNCTION public.notification_claim(text, text, integer);
CREATE FUNCTION public.notification_claim(p_id text, p_holder text, p_lease_seconds integer DEFAULT 60)
  RETURNS TABLE (workspace_id text, channel_id text, kind text, target text, event text, attempts integer,
                 lease_token uuid, lease_expires_at timestamptz, skill_id text, skill_slug text, skill_name text,
                 cause text, reason text, rate numeric, threshold numeric, decided integer, incident_key text,
                 paused_at timestamptz, resumed_by text, resume_reason text, siem_subscription_id text,
                 siem_reason text, siem_endpoint_url text, siem_format text, created_at timestamptz)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
  IF p_lease_seconds IS NULL OR p_lease_seconds < 5 OR p_lease_seconds > 600 THEN
    RAISE EXCEPTION 'lease must be between 5 and 600 seconds' USING ERRCODE = 'PXV01';
  END IF;
  RETURN QUERY
    WITH claimed AS (
      UPDATE public.notifications n
         SET status = 'sending', attempts = n.attempts + 1, lease_token = gen_random_uuid(), lease_holder = p_holder,
             lease_expires_at = clock_timestamp() + make_interval(secs => p_lease_seconds), updated_at = clock_timestamp()
       WHERE n.id = p_id
         AND (n.status = 'pending' OR (n.status = 'sending' AND n.lease_expires_at < clock_timestamp()))
      RETURNING n.workspace_id, n.channel_id, n.kind, n.event, n.attempts, n.lease_token, n.lease_expires_at, n.skill_id,
                n.pause_id, n.siem_subscription_id, n.siem_reason, n.created_at)
    SELECT c.workspace_id, c.channel_id, c.kind, ch.target, c.event, c.attempts, c.lease_token, c.lease_expires_at,
           s.id, s.slug, s.name, p.cause, p.reason, p.rate, p.threshold, p.decided, p.incident_key, p.paused_at,
           p.resumed_by, p.resume_reason, c.siem_subscription_id, c.siem_reason, ss.endpoint_url, ss.format, c.created_at
      FROM claimed c
      JOIN public.notification_channels ch ON ch.id = c.channel_id
      LEFT JOIN public.skills s ON s.id = c.skill_id
      LEFT JOIN public.skill_pauses p ON p.id = c.pause_id
      LEFT JOIN public.siem_subscriptions ss ON ss.id = c.siem_subscription_id;
END $$;
ALTER FUNCTION public.notification_claim(text, text, integer) OWNER TO praxa_definer;
REVOKE ALL ON FUNCTION public.notification_claim(text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.notification_claim(text, text, integer) TO praxa_worker;

-- worker, under the lease: an attempt failed. The next attempt waits p_retry_after_ms (backoff with jitter, or the
-- endpoint's Retry-After, decided by the worker); the lease is released. The subscription is disabled when the
-- endpoint said 410 Gone (p_disable), or when it has been failing for longer than p_max_failing_seconds; then, in the
-- same transaction, one `siem.disabled` notification per enabled channel of the workspace. Answers whether it was
-- disabled now, why, and the notifications' ids (the outbox reconciler enqueues them in any case).
CREATE FUNCTION public.siem_fail(p_id text, p_token uuid, p_code text, p_status integer, p_retry_after_ms bigint,
                                 p_disable boolean, p_max_failing_seconds integer)
  RETURNS TABLE (disabled boolean, reason text, notification_ids text[])
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  l record;
  s public.siem_subscriptions%ROWTYPE;
  v_since timestamptz;
  v_reason text;
  v_disabled boolean;
  v_ids text[] := '{}';
BEGIN
  SELECT * INTO l FROM app.check_siem_lease(p_id, p_token);
  SELECT * INTO s FROM public.siem_subscriptions x WHERE x.id = p_id;
  v_since := COALESCE(s.failing_since, clock_timestamp());
  IF p_disable THEN
    v_reason := 'ENDPOINT_GONE';
  ELSIF p_max_failing_seconds IS NOT NULL AND clock_timestamp() - v_since >= make_interval(secs => p_max_failing_seconds) THEN
    v_reason := 'FAILING_TOO_LONG';
  END IF;
  v_disabled := v_reason IS NOT NULL AND s.status = 'active';
  UPDATE public.siem_subscriptions
     SET failures = failures + 1, failing_since = v_since, last_error_code = p_code, last_status = p_status,
         next_attempt_at = clock_timestamp() + make_interval(secs => LEAST(GREATEST(p_retry_after_ms, 0), 86400000) / 1000.0),
         status = CASE WHEN v_disabled THEN 'disabled' ELSE status END,
         status_reason = CASE WHEN v_disabled THEN v_reason ELSE status_reason END,
         lease_token = NULL, lease_holder = NULL, lease_expires_at = NULL, updated_at = clock_timestamp()
   WHERE id = p_id;
  IF v_disabled THEN
    WITH created AS (
      INSERT INTO public.notifications (workspace_id, id, channel_id, event, kind, siem_subscription_id, siem_reason)
      SELECT l.ws, app.new_typeid('nt'), c.id, 'siem.disabled', c.kind, p_id, v_reason
        FROM public.notification_channels c
       WHERE c.workspace_id = l.ws AND c.disabled_at IS NULL
       ORDER BY c.created_at, c.id
      RETURNING id)
    SELECT COALESCE(array_agg(created.id ORDER BY created.id), '{}') INTO v_ids FROM created;
  END IF;
  RETURN QUERY SELECT v_disabled, v_reason, v_ids;
END $$;
ALTER FUNCTION public.siem_fail(text, uuid, text, integer, bigint, boolean, integer) OWNER TO praxa_definer;
REVOKE ALL ON FUNCTION public.siem_fail(text, uuid, text, integer, bigint, boolean, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.siem_fail(text, uuid, text, integer, bigint, boolean, integer) TO praxa_worker;
