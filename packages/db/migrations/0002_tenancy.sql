-- Tenancy and the run pipeline's tables. Owned by praxa_owner; every table goes through app.enable_*_rls.
SET LOCAL ROLE praxa_owner;

CREATE TABLE tenants (
  id          text PRIMARY KEY CHECK (app.is_typeid(id, 'tn')),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  created_at  timestamptz NOT NULL DEFAULT now()
);
-- A tenant is visible to an app role only as the tenant of the workspace in scope.
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
REVOKE ALL ON tenants FROM PUBLIC;

CREATE TABLE workspaces (
  id                    text PRIMARY KEY CHECK (app.is_typeid(id, 'ws')),
  tenant_id             text NOT NULL REFERENCES tenants(id),
  name                  text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  audit_retention_days  integer NOT NULL DEFAULT 90 CHECK (audit_retention_days BETWEEN 1 AND 3650),
  created_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workspaces_tenant_idx ON workspaces (tenant_id);
SELECT app.enable_tenant_rls('workspaces', 'id');

CREATE POLICY tenants_workspace_scope ON tenants AS PERMISSIVE FOR SELECT
  TO praxa_ingest, praxa_worker, praxa_monitor, praxa_api
  USING (id = (SELECT w.tenant_id FROM workspaces w WHERE w.id = (SELECT app.current_workspace())));
CREATE POLICY tenants_definer ON tenants AS PERMISSIVE FOR ALL TO praxa_definer USING (true) WITH CHECK (true);

CREATE TABLE workspace_members (
  workspace_id  text NOT NULL REFERENCES workspaces(id),
  id            text NOT NULL PRIMARY KEY CHECK (app.is_typeid(id, 'mb')),
  email         text NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
  display_name  text,
  role          text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, id),
  UNIQUE (workspace_id, email)
);
SELECT app.enable_tenant_rls('workspace_members');

CREATE TABLE integrations (
  workspace_id     text NOT NULL REFERENCES workspaces(id),
  id               text NOT NULL PRIMARY KEY CHECK (app.is_typeid(id, 'in')),
  provider         text NOT NULL CHECK (provider IN ('github', 'slack')),
  external_id      text NOT NULL CHECK (length(external_id) BETWEEN 1 AND 200),
  bot_identity     jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(bot_identity) = 'object'),
  granted_scopes   text[] NOT NULL DEFAULT '{}',
  status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'revoked')),
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, id),
  UNIQUE (provider, external_id)
);
SELECT app.enable_tenant_rls('integrations');

CREATE TABLE skills (
  workspace_id   text NOT NULL REFERENCES workspaces(id),
  id             text NOT NULL PRIMARY KEY CHECK (app.is_typeid(id, 'sk')),
  slug           text NOT NULL CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  status         text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
  paused_reason  text,
  paused_at      timestamptz,
  paused_by      text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, id),
  UNIQUE (workspace_id, slug),
  CHECK ((status = 'paused') = (paused_at IS NOT NULL))
);
SELECT app.enable_tenant_rls('skills');

CREATE TABLE skill_versions (
  workspace_id   text NOT NULL,
  id             text NOT NULL PRIMARY KEY CHECK (app.is_typeid(id, 'sv')),
  skill_id       text NOT NULL,
  version        integer NOT NULL CHECK (version >= 1),
  manifest       jsonb NOT NULL CHECK (jsonb_typeof(manifest) = 'object'),
  manifest_hash  text NOT NULL CHECK (manifest_hash ~ '^[0-9a-f]{64}$'),
  created_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, id),
  UNIQUE (skill_id, version),
  FOREIGN KEY (workspace_id, skill_id) REFERENCES skills (workspace_id, id)
);
SELECT app.enable_tenant_rls('skill_versions');

-- The run row is the outbox: ingest commits it, then enqueues {runId}; the reconciler re-enqueues what was lost.
CREATE TABLE agent_runs (
  workspace_id        text NOT NULL,
  id                  text NOT NULL PRIMARY KEY CHECK (app.is_typeid(id, 'rn')),
  skill_id            text NOT NULL,
  skill_version_id    text NOT NULL,
  parent_run_id       text,
  trigger             text NOT NULL CHECK (trigger ~ '^[a-z0-9_]+(\.[a-z0-9_]+)+$'),
  source              text NOT NULL CHECK (source IN ('github', 'slack', 'trigger', 'subagent', 'api')),
  source_delivery_id  text,
  input               jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(input) = 'object'),
  status              text NOT NULL DEFAULT 'queued'
                        CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'skipped', 'cancelled')),
  skip_reason         text,
  attempt             integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
  error_code          text CHECK (error_code ~ '^[A-Z][A-Z0-9_]{1,63}$'),
  lease_token         uuid,
  lease_holder        text,
  lease_expires_at    timestamptz,
  not_before          timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now(),
  started_at          timestamptz,
  finished_at         timestamptz,
  updated_at          timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, id),
  FOREIGN KEY (workspace_id, skill_id) REFERENCES skills (workspace_id, id),
  FOREIGN KEY (workspace_id, skill_version_id) REFERENCES skill_versions (workspace_id, id),
  FOREIGN KEY (workspace_id, parent_run_id) REFERENCES agent_runs (workspace_id, id),
  CHECK ((status = 'running') = (lease_token IS NOT NULL))
);
CREATE INDEX agent_runs_workspace_created_idx ON agent_runs (workspace_id, created_at DESC, id DESC);
CREATE INDEX agent_runs_skill_idx ON agent_runs (workspace_id, skill_id, created_at DESC);
CREATE INDEX agent_runs_pending_idx ON agent_runs (status, created_at) WHERE status IN ('queued', 'running');
SELECT app.enable_tenant_rls('agent_runs');

-- One row per model call or tool call: keyed (run, index), so a retried run replays instead of repeating effects.
CREATE TABLE run_steps (
  workspace_id     text NOT NULL,
  run_id           text NOT NULL,
  idx              integer NOT NULL CHECK (idx >= 0),
  kind             text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_.]{0,63}$'),
  idempotency_key  text NOT NULL,
  status           text NOT NULL CHECK (status IN ('started', 'completed', 'failed')),
  result           jsonb,
  result_sealed    bytea,
  created_at       timestamptz NOT NULL DEFAULT now(),
  completed_at     timestamptz,
  PRIMARY KEY (run_id, idx),
  UNIQUE (workspace_id, run_id, idx),
  UNIQUE (run_id, idempotency_key),
  FOREIGN KEY (workspace_id, run_id) REFERENCES agent_runs (workspace_id, id)
);
SELECT app.enable_tenant_rls('run_steps');

-- Telemetry: meta may carry only {tool_name, ms, code, iter} — a zod .strict() schema in code and this CHECK.
CREATE TABLE agent_run_events (
  workspace_id  text NOT NULL,
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id        text NOT NULL,
  meta          jsonb NOT NULL CHECK (
                  jsonb_typeof(meta) = 'object'
                  AND meta - ARRAY['tool_name', 'ms', 'code', 'iter'] = '{}'::jsonb
                  AND (NOT meta ? 'tool_name' OR jsonb_typeof(meta->'tool_name') = 'string')
                  AND (NOT meta ? 'ms' OR jsonb_typeof(meta->'ms') = 'number')
                  AND (NOT meta ? 'code' OR jsonb_typeof(meta->'code') IN ('string', 'null'))
                  AND (NOT meta ? 'iter' OR jsonb_typeof(meta->'iter') = 'number')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (workspace_id, run_id) REFERENCES agent_runs (workspace_id, id)
);
CREATE INDEX agent_run_events_run_idx ON agent_run_events (workspace_id, run_id, id);
SELECT app.enable_tenant_rls('agent_run_events');

-- Replay protection for inbound webhooks: a platform table (no workspace), reached only by definer functions.
CREATE TABLE webhook_deliveries (
  source        text NOT NULL CHECK (source IN ('github', 'slack', 'trigger')),
  delivery_id   text NOT NULL CHECK (length(delivery_id) BETWEEN 1 AND 200),
  body_sha256   text NOT NULL CHECK (body_sha256 ~ '^[0-9a-f]{64}$'),
  workspace_id  text,
  run_ids       text[] NOT NULL DEFAULT '{}',
  outcome       text NOT NULL DEFAULT 'accepted' CHECK (outcome IN ('accepted', 'ignored')),
  received_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source, delivery_id)
);
CREATE UNIQUE INDEX webhook_deliveries_body_idx ON webhook_deliveries (source, body_sha256);
CREATE INDEX webhook_deliveries_received_idx ON webhook_deliveries (received_at);
SELECT app.enable_platform_rls('webhook_deliveries');

CREATE TABLE memory_facts (
  workspace_id  text NOT NULL REFERENCES workspaces(id),
  id            text NOT NULL PRIMARY KEY CHECK (app.is_typeid(id, 'mf')),
  namespace     text NOT NULL CHECK (namespace ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
  key           text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
  value         jsonb NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, id),
  UNIQUE (workspace_id, namespace, key)
);
SELECT app.enable_tenant_rls('memory_facts');

-- Grants: each login role gets only what its app needs. Writes that cross tenants or need a lease go through the
-- SECURITY DEFINER functions of the next migration.
GRANT SELECT ON workspaces, tenants TO praxa_worker, praxa_monitor, praxa_api;
GRANT UPDATE (name, audit_retention_days) ON workspaces TO praxa_api;
GRANT SELECT, INSERT, UPDATE, DELETE ON workspace_members TO praxa_api;
GRANT SELECT ON integrations TO praxa_worker, praxa_api;
GRANT INSERT, UPDATE (status, granted_scopes, bot_identity, updated_at) ON integrations TO praxa_api;
GRANT SELECT ON skills, skill_versions TO praxa_worker, praxa_monitor, praxa_api;
GRANT INSERT, UPDATE (name, updated_at) ON skills TO praxa_api;
GRANT INSERT ON skill_versions TO praxa_api;
GRANT SELECT ON agent_runs TO praxa_worker, praxa_monitor, praxa_api;
GRANT SELECT ON run_steps TO praxa_worker, praxa_api;
GRANT SELECT, INSERT ON agent_run_events TO praxa_worker;
GRANT SELECT ON agent_run_events TO praxa_api;
GRANT SELECT, INSERT, UPDATE, DELETE ON memory_facts TO praxa_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON memory_facts TO praxa_api;

-- What praxa_definer's functions need, and nothing more.
GRANT SELECT ON tenants, workspaces, integrations, skills, skill_versions TO praxa_definer;
GRANT INSERT ON tenants, workspaces TO praxa_definer;
GRANT SELECT, INSERT, UPDATE ON agent_runs TO praxa_definer;
GRANT SELECT, INSERT, UPDATE ON run_steps TO praxa_definer;
GRANT SELECT, INSERT, UPDATE ON webhook_deliveries TO praxa_definer;
