-- Row-level append-only triggers on the audit tables (issue #6: "a row trigger raises on UPDATE, and on DELETE unless
-- the role is the NOLOGIN praxa_lifecycle"), beside the statement-level ones of 0005 and 0006, which stay.
--
-- The statement triggers are what stops the owner: forced row-level security shows praxa_owner no rows (no policy
-- names it), so an UPDATE or DELETE of the owner touches no row and a row trigger would never fire for it. Row
-- triggers fire wherever rows ARE visible to a change: the superuser (who bypasses RLS) once the statement triggers
-- are disabled, and any role a mistaken GRANT and policy would let change rows. Each layer refuses on its own
-- (test/security/audit-log.test.ts disables the other to show it).
--
-- A BEFORE row trigger that returns NULL silently skips its row, so praxa_lifecycle's DELETE (retention and erasure)
-- must get OLD back, not NULL: a separate function from the statement triggers' app.audit_refuse_change().
-- audit_chain_heads gets no UPDATE trigger: advancing the head is how audit_append_events appends.
CREATE FUNCTION app.audit_refuse_row_change() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_user = 'praxa_lifecycle' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'the audit log is append-only: % of a row of % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'PXA01';
END $$;
ALTER FUNCTION app.audit_refuse_row_change() OWNER TO praxa_owner;
REVOKE ALL ON FUNCTION app.audit_refuse_row_change() FROM PUBLIC;

CREATE TRIGGER audit_events_no_update_row BEFORE UPDATE ON audit_events FOR EACH ROW EXECUTE FUNCTION app.audit_refuse_row_change();
CREATE TRIGGER audit_events_no_delete_row BEFORE DELETE ON audit_events FOR EACH ROW EXECUTE FUNCTION app.audit_refuse_row_change();
CREATE TRIGGER audit_chain_heads_no_delete_row BEFORE DELETE ON audit_chain_heads FOR EACH ROW EXECUTE FUNCTION app.audit_refuse_row_change();
CREATE TRIGGER audit_checkpoints_no_update_row BEFORE UPDATE ON audit_checkpoints FOR EACH ROW EXECUTE FUNCTION app.audit_refuse_row_change();
CREATE TRIGGER audit_checkpoints_no_delete_row BEFORE DELETE ON audit_checkpoints FOR EACH ROW EXECUTE FUNCTION app.audit_refuse_row_change();
CREATE TRIGGER audit_keys_no_update_row BEFORE UPDATE ON audit_keys FOR EACH ROW EXECUTE FUNCTION app.audit_refuse_row_change();
CREATE TRIGGER audit_keys_no_delete_row BEFORE DELETE ON audit_keys FOR EACH ROW EXECUTE FUNCTION app.audit_refuse_row_change();
