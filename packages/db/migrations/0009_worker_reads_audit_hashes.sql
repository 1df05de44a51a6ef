-- Appenders sign a checkpoint every N events (issue #6), which needs the chain's event hashes — never the events'
-- content. The worker may read exactly those columns.
SET LOCAL ROLE praxa_owner;
GRANT SELECT (workspace_id, seq, hash) ON audit_events TO praxa_worker;
RESET ROLE;
