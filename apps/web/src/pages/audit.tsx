/**
 * Audit: find the signed events of a Skill, a run, a trigger or a time range; verify the whole chain (the result, and
 * the first bad seq if any); download the export — events, leaves, checkpoints and the public keys that verify them,
 * offline, with `praxa audit verify --file`.
 */
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { z } from "zod";
import { Link, useNavigate } from "@tanstack/react-router";
import { api, ApiFailure, isAdmin, unwrap, sessionQuery } from "../api.js";
import {
  Badge,
  Button,
  Card,
  Empty,
  ErrorNotice,
  Field,
  Loading,
  Notice,
  Page,
  Time,
  TimeRangeFields,
} from "../kit.js";
import type { AuditSearch } from "../router.js";

interface Event {
  seq: number;
  kind?: string;
  skillId?: string;
  runId?: string;
  trigger?: string;
  occurred_at?: string;
  key_id: string;
  hash: string;
}

export function AuditPage(props: { search: AuditSearch }) {
  const search = props.search;
  const navigate = useNavigate();
  const session = useQuery(sessionQuery);
  const events = useQuery({
    queryKey: ["audit", search],
    queryFn: async () =>
      unwrap(
        await api.GET("/v1/audit/events", {
          params: {
            query: {
              ...(search.skill ? { skill: search.skill } : {}),
              ...(search.run ? { run: search.run } : {}),
              ...(search.trigger ? { trigger: search.trigger } : {}),
              ...(search.from ? { from: new Date(search.from).toISOString() } : {}),
              ...(search.to ? { to: new Date(search.to).toISOString() } : {}),
              limit: 200,
            },
          },
        }),
      ),
  });
  const verify = useMutation({
    mutationFn: async (full: boolean) =>
      unwrap(await api.GET("/v1/audit/verify", { params: { query: full ? { full: "true" } : {} } })),
  });
  const setFilter = (patch: Partial<AuditSearch>) =>
    void navigate({
      to: "/audit",
      search: (prev: AuditSearch) =>
        Object.fromEntries(
          Object.entries({ ...prev, ...patch }).filter(([, v]) => v !== undefined && v !== ""),
        ) as AuditSearch,
    });
  const exportHref = `/v1/audit/export${search.from || search.to ? `?${new URLSearchParams({ ...(search.from ? { from: new Date(search.from).toISOString() } : {}), ...(search.to ? { to: new Date(search.to).toISOString() } : {}) }).toString()}` : ""}`;
  const rows = (events.data?.events ?? []) as unknown as Event[];
  const v = verify.data;
  return (
    <Page
      title="Audit"
      lead="Every decision and administrative change, signed and hash-chained. Search it, verify it, take it with you."
      actions={
        <>
          <Button variant="primary" busy={verify.isPending} onClick={() => verify.mutate(false)}>
            Verify the log
          </Button>
          {isAdmin(session.data) ? (
            <Button busy={verify.isPending} onClick={() => verify.mutate(true)}>
              Verify everything (full)
            </Button>
          ) : null}
          <a className="btn btn-plain" href={exportHref} download="praxa-audit-export.jsonl">
            Download export (with keys and checkpoints)
          </a>
        </>
      }
    >
      {verify.error ? <ErrorNotice error={verify.error} /> : null}
      {v ? (
        v.ok ? (
          <Notice tone="good">
            Verified: {v.events} events and {v.checkpoints} checkpoints hold ({v.mode}).
          </Notice>
        ) : (
          <div role="alert" className="notice notice-bad">
            Verification failed ({v.mode}):{" "}
            {"seq" in v.failure
              ? `first bad event seq ${v.failure.seq}`
              : `checkpoint at tree size ${v.failure.treeSize}`}{" "}
            — {v.failure.reason}.
          </div>
        )
      ) : null}
      <Card>
        <form className="filters" aria-label="Search the audit log" onSubmit={(e) => e.preventDefault()}>
          <Field label="Skill id">
            {(id) => (
              <input
                id={id}
                defaultValue={search.skill ?? ""}
                onBlur={(e) => setFilter({ skill: e.target.value.trim() || undefined })}
              />
            )}
          </Field>
          <Field label="Run id">
            {(id) => (
              <input
                id={id}
                defaultValue={search.run ?? ""}
                onBlur={(e) => setFilter({ run: e.target.value.trim() || undefined })}
              />
            )}
          </Field>
          <Field label="Trigger">
            {(id) => (
              <input
                id={id}
                defaultValue={search.trigger ?? ""}
                onBlur={(e) => setFilter({ trigger: e.target.value.trim() || undefined })}
              />
            )}
          </Field>
          <TimeRangeFields from={search.from} to={search.to} onChange={setFilter} />
        </form>
      </Card>
      <KeysAndCheckpoints />
      {events.isPending ? (
        <Loading />
      ) : events.error ? (
        <ErrorNotice error={events.error} />
      ) : rows.length === 0 ? (
        <Empty>No event matches.</Empty>
      ) : (
        <table className="table">
          <caption className="sr-only">Audit events</caption>
          <thead>
            <tr>
              <th scope="col">Seq</th>
              <th scope="col">Kind</th>
              <th scope="col">Run</th>
              <th scope="col">Trigger</th>
              <th scope="col">When</th>
              <th scope="col">Signed by</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((e) => (
              <tr key={e.seq}>
                <td className="mono">{e.seq}</td>
                <td>
                  <Badge value="ok" label={e.kind ?? "event"} />
                </td>
                <td>
                  {e.runId ? (
                    <Link to="/runs/$runId" params={{ runId: e.runId }} className="mono">
                      {e.runId}
                    </Link>
                  ) : (
                    "—"
                  )}
                </td>
                <td className="mono small">{e.trigger ?? "—"}</td>
                <td>
                  <Time value={e.occurred_at} />
                </td>
                <td className="mono small">{e.key_id}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}

const ExportLine = z.union([
  z.object({
    type: z.literal("key"),
    key_id: z.string(),
    purpose: z.enum(["event", "checkpoint"]),
    algorithm: z.string(),
    public_key_pem: z.string(),
  }),
  z.object({
    type: z.literal("checkpoint"),
    tree_size: z.number(),
    root_hash: z.string(),
    timestamp: z.string(),
    key_id: z.string(),
  }),
  z.object({ type: z.enum(["export", "leaf", "event"]) }),
]);

/** The signing keys and signed checkpoints, read from the export (the api's one document that carries them). */
function KeysAndCheckpoints() {
  const [open, setOpen] = useState(false);
  const data = useQuery({
    queryKey: ["audit", "keys-checkpoints"],
    enabled: open,
    queryFn: async () => {
      const res = await fetch("/v1/audit/export", { credentials: "same-origin" });
      if (!res.ok) throw new ApiFailure(res.status, `HTTP_${res.status}`, "the export could not be read");
      const lines = (await res.text()).split("\n").filter((l) => l.trim() !== "");
      const keys: { keyId: string; purpose: string; algorithm: string; pem: string }[] = [];
      const checkpoints: { treeSize: number; rootHash: string; timestamp: string; keyId: string }[] = [];
      for (const line of lines) {
        const parsed = ExportLine.safeParse(JSON.parse(line));
        if (!parsed.success) continue;
        const l = parsed.data;
        if (l.type === "key")
          keys.push({ keyId: l.key_id, purpose: l.purpose, algorithm: l.algorithm, pem: l.public_key_pem });
        else if (l.type === "checkpoint")
          checkpoints.push({ treeSize: l.tree_size, rootHash: l.root_hash, timestamp: l.timestamp, keyId: l.key_id });
      }
      return { keys, checkpoints };
    },
  });
  return (
    <Card title="Keys and checkpoints">
      {!open ? (
        <Button onClick={() => setOpen(true)}>Show the signing keys and checkpoints</Button>
      ) : data.isPending ? (
        <Loading />
      ) : data.error ? (
        <ErrorNotice error={data.error} />
      ) : (
        <>
          <h3>Public keys</h3>
          {data.data.keys.length === 0 ? (
            <Empty>No key.</Empty>
          ) : (
            <ul className="rows">
              {data.data.keys.map((k) => (
                <li key={k.keyId}>
                  <span className="mono small">{k.keyId}</span> <Badge value="active" label={k.purpose} />{" "}
                  <span className="muted small">{k.algorithm}</span>
                  <details>
                    <summary>PEM</summary>
                    <pre className="json">{k.pem}</pre>
                  </details>
                </li>
              ))}
            </ul>
          )}
          <h3>Checkpoints</h3>
          {data.data.checkpoints.length === 0 ? (
            <Empty>No checkpoint yet.</Empty>
          ) : (
            <table className="table">
              <caption className="sr-only">Signed checkpoints</caption>
              <thead>
                <tr>
                  <th scope="col">Tree size</th>
                  <th scope="col">Root hash</th>
                  <th scope="col">Signed</th>
                  <th scope="col">Key</th>
                </tr>
              </thead>
              <tbody>
                {data.data.checkpoints.map((c) => (
                  <tr key={c.treeSize}>
                    <td className="mono">{c.treeSize}</td>
                    <td className="mono small">{c.rootHash.slice(0, 24)}…</td>
                    <td>
                      <Time value={c.timestamp} />
                    </td>
                    <td className="mono small">{c.keyId}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </Card>
  );
}
