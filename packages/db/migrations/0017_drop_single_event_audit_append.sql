-- The single-event pair of 0005 — `audit_lock_head` (lock the scope's chain head) and `audit_append_event` (insert one
-- event that continues it) — has had no caller since 0012's `audit_append_events`, which places a batch in one call
-- with the same checks and more (the bytes must name the place they are appended at; the indexed columns are read
-- from the signed bytes, where `audit_append_event` took them as arguments). A definer function nobody calls is only
-- attack surface for the three roles that could execute it: drop the pair. Appends now have exactly one way in.
DROP FUNCTION public.audit_append_event(bigint, text, text, text, text, text, text, integer, text, timestamptz, text, text, bytea);
DROP FUNCTION public.audit_lock_head(text);
