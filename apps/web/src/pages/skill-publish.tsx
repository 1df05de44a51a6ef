/**
 * Publish a workspace's own Skill from its document (docs/skills.md), as JSON: validate first (the api's dry run names
 * each problem by its path in the document), then publish — a new Skill, or a new immutable version of the Skill with
 * the same slug. YAML files go through `praxa skills apply -f`. Owners and admins publish; the api decides.
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, unwrap } from "../api.js";
import { Button, Card, ErrorNotice, Field, Notice } from "../kit.js";

type Issues = { path: string; message: string }[];

function parse(text: string): { document: Record<string, unknown> } | { error: string } {
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== "object" || Array.isArray(value))
      return { error: "a Skill document is a JSON object" };
    return { document: value as Record<string, unknown> };
  } catch {
    return { error: "not valid JSON (YAML documents: praxa skills apply -f skill.yaml)" };
  }
}

export function PublishSkill(props: { existing: readonly { id: string; slug: string }[] }) {
  const client = useQueryClient();
  const [text, setText] = useState("");
  const [issues, setIssues] = useState<Issues | null>(null);
  const [local, setLocal] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const validate = useMutation({
    mutationFn: async (document: Record<string, unknown>) =>
      unwrap(await api.POST("/v1/skills/validate", { body: { document } })),
    onSuccess: (r) => setIssues(r.issues),
  });
  const publish = useMutation({
    mutationFn: async (document: Record<string, unknown>) => {
      const checked = unwrap(await api.POST("/v1/skills/validate", { body: { document } }));
      if (!checked.valid) return { issues: checked.issues, published: null };
      const same = props.existing.find((s) => s.slug === document["slug"]);
      const published = same
        ? unwrap(await api.PUT("/v1/skills/{id}", { params: { path: { id: same.id } }, body: { document } }))
        : unwrap(await api.POST("/v1/skills", { body: { document } }));
      return { issues: [] as Issues, published };
    },
    onSuccess: (r) => {
      setIssues(r.issues);
      if (r.published) {
        const v = r.published.version;
        setDone(
          v.created
            ? `${r.published.skill.slug}: version ${v.version} published (manifest ${v.manifestHash.slice(0, 12)}…)`
            : `${r.published.skill.slug}: unchanged — version ${v.version} already has this document`,
        );
        void client.invalidateQueries({ queryKey: ["skills"] });
      }
    },
  });
  const run = (m: typeof validate | typeof publish) => {
    setDone(null);
    setIssues(null);
    const parsed = parse(text);
    if ("error" in parsed) {
      setLocal(parsed.error);
      return;
    }
    setLocal(null);
    m.mutate(parsed.document);
  };
  return (
    <Card title="Publish a Skill">
      <p className="muted small">
        Paste the Skill's document as JSON (the schema: docs/skills/skill.schema.json). Validate names each problem by
        its path; publishing makes a new Skill or a new version of the one with the same slug.
      </p>
      <Field label="Skill document (JSON)">
        {(id) => (
          <textarea
            id={id}
            className="code-input"
            rows={12}
            spellCheck={false}
            value={text}
            onChange={(e) => setText(e.target.value)}
          />
        )}
      </Field>
      <div className="inline-form">
        <Button busy={validate.isPending} onClick={() => run(validate)}>
          Validate
        </Button>
        <Button variant="primary" busy={publish.isPending} onClick={() => run(publish)}>
          Publish
        </Button>
      </div>
      {local ? <Notice tone="bad">{local}</Notice> : null}
      {validate.error ? <ErrorNotice error={validate.error} /> : null}
      {publish.error ? <ErrorNotice error={publish.error} /> : null}
      {issues && issues.length === 0 && !done ? <Notice tone="good">Valid: nothing to fix.</Notice> : null}
      {issues && issues.length > 0 ? (
        <Notice tone="bad">
          <span>Not valid:</span>
          <ul aria-label="Problems in the document">
            {issues.map((i) => (
              <li key={`${i.path}:${i.message}`}>
                <span className="mono">{i.path}</span>: {i.message}
              </li>
            ))}
          </ul>
        </Notice>
      ) : null}
      {done ? <Notice tone="good">{done}</Notice> : null}
    </Card>
  );
}
