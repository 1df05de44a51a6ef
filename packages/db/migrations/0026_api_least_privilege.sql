-- Issue #16, finding 8: the api role held table grants it never used. A grant nobody uses is only a way in for
-- whoever holds the api's credentials, so they go:
--   workspace_members INSERT/UPDATE/DELETE (incl. `role`: the api could have promoted its caller to owner),
--   memory_facts (every privilege: memory is the worker's),
--   skills INSERT and UPDATE (name, updated_at), skill_versions INSERT (no api route publishes a Skill yet).
-- The one caller that used them was the operator's `praxa seed`: it now goes through two operator-only definer
-- functions, like `admin_provision_workspace`. The catalog test compares each login role's whole grant set with a
-- checked-in list (packages/db/src/login-role-grants.txt), so a new grant is a visible, reviewed change.
SET LOCAL ROLE praxa_owner;

REVOKE INSERT, UPDATE, DELETE ON workspace_members FROM praxa_api;
REVOKE ALL ON memory_facts FROM praxa_api;
REVOKE INSERT, UPDATE ON skills FROM praxa_api;
REVOKE UPDATE (name, updated_at) ON skills FROM praxa_api;
REVOKE INSERT ON skill_versions FROM praxa_api;

-- What the two operator functions below write.
GRANT INSERT ON workspace_members, skills, skill_versions TO praxa_definer;

RESET ROLE;

-- A member of a workspace, for operators (seeding a workspace's first admin). Idempotent per (workspace, email).
CREATE FUNCTION public.admin_add_member(p_workspace_id text, p_member_id text, p_email text, p_role text)
  RETURNS text
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_id text;
BEGIN
  INSERT INTO public.workspace_members (workspace_id, id, email, role)
  VALUES (p_workspace_id, p_member_id, p_email, p_role)
  ON CONFLICT (workspace_id, email) DO NOTHING;
  SELECT m.id INTO v_id FROM public.workspace_members m WHERE m.workspace_id = p_workspace_id AND m.email = p_email;
  RETURN v_id;
END $$;

-- A Skill and one published version of its manifest, for operators (seeding the demo's built-in Skill). A version
-- number already taken is refused by the table's UNIQUE (skill_id, version); versions are never rewritten.
CREATE FUNCTION public.admin_publish_skill_version(p_workspace_id text, p_skill_id text, p_slug text, p_name text,
                                                   p_version_id text, p_version integer, p_manifest jsonb,
                                                   p_manifest_hash text)
  RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  INSERT INTO public.skills (workspace_id, id, slug, name) VALUES (p_workspace_id, p_skill_id, p_slug, p_name)
  ON CONFLICT (id) DO NOTHING;
  INSERT INTO public.skill_versions (workspace_id, id, skill_id, version, manifest, manifest_hash)
  VALUES (p_workspace_id, p_version_id, p_skill_id, p_version, p_manifest, p_manifest_hash);
END $$;

ALTER FUNCTION public.admin_add_member(text, text, text, text) OWNER TO praxa_definer;
ALTER FUNCTION public.admin_publish_skill_version(text, text, text, text, text, integer, jsonb, text) OWNER TO praxa_definer;
REVOKE ALL ON FUNCTION public.admin_add_member(text, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.admin_publish_skill_version(text, text, text, text, text, integer, jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.admin_add_member(text, text, text, text) TO praxa_owner;
GRANT EXECUTE ON FUNCTION public.admin_publish_skill_version(text, text, text, text, text, integer, jsonb, text) TO praxa_owner;
