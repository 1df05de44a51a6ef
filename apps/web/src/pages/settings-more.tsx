/**
 * Settings, continued: approvals waiting for a human (grant / deny — the api and the database decide who may), the
 * workspace's SIEM streams (status, cursor, pause / resume), and its data (a GDPR export with short-lived download
 * links; an erasure request an owner can cancel during its grace period).
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, unwrap } from "../api.js";
import { Badge, Button, Card, Empty, ErrorNotice, Field, Loading, Notice, Time } from "../kit.js";

export function Approvals() {
  const client = useQueryClient();
  const pending = useQuery({
    queryKey: ["approvals", "pending"],
    queryFn: async () => unwrap(await api.GET("/v1/approvals", { params: { query: { status: "pending" } } })),
  });
  const decide = useMutation({
    mutationFn: async (x: { id: string; verb: "grant" | "deny" }) =>
      x.verb === "grant"
        ? unwrap(await api.POST("/v1/approvals/{id}/grant", { params: { path: { id: x.id } }, body: {} }))
        : unwrap(await api.POST("/v1/approvals/{id}/deny", { params: { path: { id: x.id } }, body: {} })),
    onSuccess: () => void client.invalidateQueries({ queryKey: ["approvals"] }),
  });
  return (
    <Card title="Approvals waiting for a human">
      {pending.isPending ? (
        <Loading />
      ) : pending.error ? (
        <ErrorNotice error={pending.error} />
      ) : pending.data.approvals.length === 0 ? (
        <Empty>Nothing is waiting for an approval.</Empty>
      ) : (
        <ul className="rows">
          {pending.data.approvals.map((a) => (
            <li key={a.id}>
              <span className="mono">{a.tool}</span> for run <span className="mono">{a.runId}</span>{" "}
              <span className="muted small">
                (who may decide: {a.roles.join(", ")}; expires <Time value={a.expiresAt} />)
              </span>{" "}
              <Button
                variant="primary"
                busy={decide.isPending}
                onClick={() => decide.mutate({ id: a.id, verb: "grant" })}
                aria-label={`Approve ${a.tool} for run ${a.runId}`}
              >
                Approve
              </Button>
              <Button
                variant="danger"
                busy={decide.isPending}
                onClick={() => decide.mutate({ id: a.id, verb: "deny" })}
                aria-label={`Deny ${a.tool} for run ${a.runId}`}
              >
                Deny
              </Button>
            </li>
          ))}
        </ul>
      )}
      {decide.error ? <ErrorNotice error={decide.error} /> : null}
    </Card>
  );
}

export function SiemStreams(props: { admin: boolean }) {
  const client = useQueryClient();
  const subs = useQuery({
    queryKey: ["siem"],
    queryFn: async () => unwrap(await api.GET("/v1/siem-subscriptions")),
  });
  const toggle = useMutation({
    mutationFn: async (x: { id: string; pause: boolean }) =>
      x.pause
        ? unwrap(await api.POST("/v1/siem-subscriptions/{id}/pause", { params: { path: { id: x.id } } }))
        : unwrap(await api.POST("/v1/siem-subscriptions/{id}/resume", { params: { path: { id: x.id } } })),
    onSuccess: () => void client.invalidateQueries({ queryKey: ["siem"] }),
  });
  return (
    <Card title="SIEM streams">
      <p className="muted small">
        The audit log streamed to your SIEM over signed webhooks (docs/siem.md): each event is the signed record, so
        your SIEM can verify the chain itself.
      </p>
      {subs.isPending ? (
        <Loading />
      ) : subs.error ? (
        <ErrorNotice error={subs.error} />
      ) : subs.data.subscriptions.length === 0 ? (
        <Empty>No stream.</Empty>
      ) : (
        <ul className="rows">
          {subs.data.subscriptions.map((s) => (
            <li key={s.id}>
              <Badge value={s.status} /> <span className="mono">{s.format}</span> {s.endpointUrl}{" "}
              <span className="muted small">
                delivered through seq {s.cursorSeq}
                {s.lastErrorCode ? `; last error ${s.lastErrorCode}` : ""}
              </span>
              {props.admin && s.status !== "disabled" ? (
                <Button
                  busy={toggle.isPending}
                  onClick={() => toggle.mutate({ id: s.id, pause: s.status === "active" })}
                  aria-label={`${s.status === "active" ? "Pause" : "Resume"} the stream to ${s.endpointUrl}`}
                >
                  {s.status === "active" ? "Pause" : "Resume"}
                </Button>
              ) : null}
            </li>
          ))}
        </ul>
      )}
      {toggle.error ? <ErrorNotice error={toggle.error} /> : null}
      {props.admin ? <NewStream /> : null}
    </Card>
  );
}

/**
 * A new stream: the endpoint must answer the signed ownership challenge, and a refused address (private, loopback,
 * metadata…) is answered 422 before any connection. The Ed25519 public key is always shown; the `whsec_` (v1) once.
 */
function NewStream() {
  const client = useQueryClient();
  const [url, setUrl] = useState("");
  const [format, setFormat] = useState<"jsonl" | "splunk-hec" | "datadog">("jsonl");
  const [credential, setCredential] = useState("");
  const [hmac, setHmac] = useState(false);
  const create = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/v1/siem-subscriptions", {
          body:
            format === "splunk-hec"
              ? { format, url, hmac, token: credential }
              : format === "datadog"
                ? { format, url, hmac, apiKey: credential }
                : { format, url, hmac },
        }),
      ),
    onSuccess: () => {
      setUrl("");
      setCredential("");
      void client.invalidateQueries({ queryKey: ["siem"] });
    },
  });
  return (
    <form
      className="inline-form"
      aria-label="Stream the audit log to an endpoint"
      onSubmit={(e) => {
        e.preventDefault();
        create.mutate();
      }}
    >
      <Field label="Endpoint URL (https)">
        {(id) => <input id={id} type="url" required value={url} onChange={(e) => setUrl(e.target.value)} />}
      </Field>
      <Field label="Format">
        {(id) => (
          <select id={id} value={format} onChange={(e) => setFormat(e.target.value as typeof format)}>
            <option value="jsonl">JSON Lines</option>
            <option value="splunk-hec">Splunk HEC</option>
            <option value="datadog">Datadog logs</option>
          </select>
        )}
      </Field>
      {format !== "jsonl" ? (
        <Field label={format === "splunk-hec" ? "HEC token" : "Datadog API key"}>
          {(id) => (
            <input
              id={id}
              type="password"
              autoComplete="off"
              required
              value={credential}
              onChange={(e) => setCredential(e.target.value)}
            />
          )}
        </Field>
      ) : null}
      <label>
        <input type="checkbox" checked={hmac} onChange={(e) => setHmac(e.target.checked)} /> also sign with HMAC (v1)
      </label>
      <Button type="submit" variant="primary" busy={create.isPending}>
        Create stream
      </Button>
      {create.error ? <ErrorNotice error={create.error} /> : null}
      {create.data ? (
        <Notice tone="good">
          Stream created. Verify its signatures with <span className="mono">{create.data.publicKey}</span>
          {create.data.signingSecret ? (
            <>
              {" "}
              and the HMAC secret <span className="mono">{create.data.signingSecret}</span> (shown once)
            </>
          ) : null}
          .
        </Notice>
      ) : null}
    </form>
  );
}

export function YourData(props: { admin: boolean; owner: boolean }) {
  const [exportId, setExportId] = useState<string | null>(null);
  const requestExport = useMutation({
    mutationFn: async () => unwrap(await api.POST("/v1/workspace/export", {})),
    onSuccess: (r) => setExportId(r.exportId),
  });
  const status = useQuery({
    queryKey: ["export", exportId],
    enabled: exportId !== null,
    queryFn: async () =>
      unwrap(await api.GET("/v1/workspace/exports/{id}", { params: { path: { id: exportId ?? "" } } })),
    refetchInterval: (q) => (q.state.data && ["done", "failed"].includes(q.state.data.status) ? false : 2_000),
  });
  const erase = useMutation({
    mutationFn: async () => unwrap(await api.POST("/v1/workspace/erasure", { body: { graceHours: 72 } })),
  });
  const cancel = useMutation({
    mutationFn: async () => unwrap(await api.DELETE("/v1/workspace/erasure", {})),
  });
  return (
    <Card title="Your data">
      <p className="muted small">
        Audit events and run logs are kept 90 days unless your contract says otherwise; older ones are removed behind a
        signed checkpoint, so the rest still verifies (docs/audit.md).
      </p>
      {props.admin ? (
        <div className="inline-form">
          <Button busy={requestExport.isPending} onClick={() => requestExport.mutate()}>
            Export this workspace
          </Button>
        </div>
      ) : null}
      {requestExport.error ? <ErrorNotice error={requestExport.error} /> : null}
      {exportId ? (
        <p role="status">
          Export <span className="mono">{exportId}</span>: {status.data?.status ?? "pending"}
          {status.data?.status === "done" ? (
            <span>
              {" "}
              —{" "}
              {status.data.files.map((f) => (
                <a key={f.name} href={f.url} download>
                  {f.name}{" "}
                </a>
              ))}
            </span>
          ) : null}
        </p>
      ) : null}
      {props.owner ? (
        <div className="inline-form">
          <Button
            variant="danger"
            busy={erase.isPending}
            onClick={() => {
              // Destructive after its grace period: every row, object, secret and key of the workspace.
              if (
                window.confirm(
                  "Erase this workspace? After 72 hours every run, audit event, secret and key is deleted.",
                )
              )
                erase.mutate();
            }}
          >
            Request erasure of this workspace (72 h to cancel)
          </Button>
          <Button busy={cancel.isPending} onClick={() => cancel.mutate()}>
            Cancel the erasure request
          </Button>
        </div>
      ) : (
        <p className="muted small">Only an owner can request the workspace's erasure.</p>
      )}
      {erase.data ? (
        <Notice tone="info">Erasure requested: it runs after the grace period unless cancelled.</Notice>
      ) : null}
      {cancel.data ? (
        <Notice tone="good">{cancel.data.cancelled ? "Erasure cancelled." : "No erasure was pending."}</Notice>
      ) : null}
      {erase.error ? <ErrorNotice error={erase.error} /> : null}
      {cancel.error ? <ErrorNotice error={cancel.error} /> : null}
    </Card>
  );
}
