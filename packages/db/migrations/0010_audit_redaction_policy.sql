-- The workspace's audit redaction policy ("We see only the redacted audit log fields you keep"): per field of an
-- event's input and output, keep / hash / drop — applied before the event is canonicalized, hashed and signed.
SET LOCAL ROLE praxa_owner;
ALTER TABLE workspaces ADD COLUMN audit_redaction jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(audit_redaction) = 'object');
GRANT UPDATE (audit_redaction) ON workspaces TO praxa_api;
RESET ROLE;
