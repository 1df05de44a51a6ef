/**
 * Settings: model keys (BYOK — only a fingerprint is ever shown), integrations (granted vs needed permissions),
 * notification channels, api tokens (list, revoke) and members. Owners and admins change things; everyone reads.
 *
 * Approvals waiting for a human, SIEM streams and the workspace's data (export, erasure): settings-more.tsx.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, isAdmin, unwrap, sessionQuery } from "../api.js";
import { Badge, Button, Card, Empty, ErrorNotice, Field, Loading, Page, Time } from "../kit.js";
import { Approvals, SiemStreams, YourData } from "./settings-more.js";

export function SettingsPage() {
  const session = useQuery(sessionQuery);
  const admin = isAdmin(session.data);
  return (
    <Page title="Settings" lead="Model keys, integrations, where notifications go, tokens and members.">
      <ModelKeys admin={admin} />
      <Integrations admin={admin} />
      <Channels admin={admin} />
      <Approvals />
      <SiemStreams admin={admin} />
      <Tokens admin={admin} />
      <Members />
      <YourData admin={admin} owner={session.data?.role === "owner"} />
    </Page>
  );
}

function ModelKeys(props: { admin: boolean }) {
  const client = useQueryClient();
  const keys = useQuery({ queryKey: ["llm-keys"], queryFn: async () => unwrap(await api.GET("/v1/llm-keys")) });
  const [apiKey, setApiKey] = useState("");
  const add = useMutation({
    mutationFn: async () => unwrap(await api.POST("/v1/llm-keys", { body: { provider: "anthropic", apiKey } })),
    onSuccess: () => {
      setApiKey("");
      void client.invalidateQueries({ queryKey: ["llm-keys"] });
    },
  });
  const del = useMutation({
    mutationFn: async (id: string) => unwrap(await api.DELETE("/v1/llm-keys/{id}", { params: { path: { id } } })),
    onSuccess: () => void client.invalidateQueries({ queryKey: ["llm-keys"] }),
  });
  return (
    <Card title="Model keys (bring your own)">
      {keys.isPending ? (
        <Loading />
      ) : keys.error ? (
        <ErrorNotice error={keys.error} />
      ) : keys.data.llmKeys.length === 0 ? (
        <Empty>No key: runs use the platform's model access.</Empty>
      ) : (
        <ul className="rows">
          {keys.data.llmKeys.map((k) => (
            <li key={k.id}>
              <Badge value="active" label={k.provider} /> <span className="mono">{k.fingerprint}</span>{" "}
              <span className="muted small">
                added <Time value={k.createdAt} />
              </span>
              {props.admin ? (
                <Button
                  variant="danger"
                  busy={del.isPending}
                  onClick={() => del.mutate(k.id)}
                  aria-label={`Delete the ${k.provider} key ${k.fingerprint}`}
                >
                  Delete
                </Button>
              ) : null}
            </li>
          ))}
        </ul>
      )}
      {props.admin ? (
        <form
          className="inline-form"
          aria-label="Add or rotate an Anthropic key"
          onSubmit={(e) => {
            e.preventDefault();
            add.mutate();
          }}
        >
          <Field
            label="Anthropic API key"
            hint="Sealed to the workspace's key at once; only its fingerprint is shown again. Adding a key rotates the old one."
          >
            {(id) => (
              <input
                id={id}
                type="password"
                autoComplete="off"
                value={apiKey}
                onChange={(e) => setApiKey(e.target.value)}
                required
              />
            )}
          </Field>
          <Button type="submit" variant="primary" busy={add.isPending} disabled={apiKey === ""}>
            Add key
          </Button>
        </form>
      ) : null}
      {add.error ? <ErrorNotice error={add.error} /> : null}
      {del.error ? <ErrorNotice error={del.error} /> : null}
    </Card>
  );
}

function Integrations(props: { admin: boolean }) {
  const list = useQuery({ queryKey: ["integrations"], queryFn: async () => unwrap(await api.GET("/v1/integrations")) });
  const install = useMutation({
    mutationFn: async (provider: "github" | "slack") =>
      unwrap(
        await api.GET(provider === "github" ? "/v1/integrations/github/install" : "/v1/integrations/slack/install"),
      ),
    onSuccess: (r) => window.location.assign(r.url),
  });
  return (
    <Card title="Integrations">
      {list.isPending ? (
        <Loading />
      ) : list.error ? (
        <ErrorNotice error={list.error} />
      ) : list.data.integrations.length === 0 ? (
        <Empty>Nothing installed.</Empty>
      ) : (
        <table className="table">
          <caption className="sr-only">Integrations</caption>
          <thead>
            <tr>
              <th scope="col">Provider</th>
              <th scope="col">Account</th>
              <th scope="col">Status</th>
              <th scope="col">Granted</th>
              <th scope="col">Needed</th>
              <th scope="col">Beyond need</th>
            </tr>
          </thead>
          <tbody>
            {list.data.integrations.map((i) => (
              <tr key={i.id}>
                <td>{i.provider}</td>
                <td className="mono">{i.externalId}</td>
                <td>
                  <Badge value={i.status} />
                </td>
                <td className="small">{i.grantedScopes.join(", ") || "—"}</td>
                <td className="small">{i.needed.join(", ") || "—"}</td>
                <td className="small">
                  {i.excess.length ? <Badge value="paused" label={i.excess.join(", ")} /> : "—"}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {props.admin ? (
        <div className="actions">
          <Button busy={install.isPending} onClick={() => install.mutate("github")}>
            Install on GitHub
          </Button>
          <Button busy={install.isPending} onClick={() => install.mutate("slack")}>
            Add to Slack
          </Button>
        </div>
      ) : null}
      {install.error ? <ErrorNotice error={install.error} /> : null}
    </Card>
  );
}

function Channels(props: { admin: boolean }) {
  const client = useQueryClient();
  const list = useQuery({
    queryKey: ["channels"],
    queryFn: async () => unwrap(await api.GET("/v1/notification-channels")),
  });
  const [address, setAddress] = useState("");
  const add = useMutation({
    mutationFn: async () => unwrap(await api.POST("/v1/notification-channels", { body: { kind: "email", address } })),
    onSuccess: () => {
      setAddress("");
      void client.invalidateQueries({ queryKey: ["channels"] });
    },
  });
  const del = useMutation({
    mutationFn: async (id: string) =>
      unwrap(await api.DELETE("/v1/notification-channels/{id}", { params: { path: { id } } })),
    onSuccess: () => void client.invalidateQueries({ queryKey: ["channels"] }),
  });
  return (
    <Card title="Notification channels">
      {list.isPending ? (
        <Loading />
      ) : list.error ? (
        <ErrorNotice error={list.error} />
      ) : list.data.channels.length === 0 ? (
        <Empty>No channel: pauses are only in the console and the audit log.</Empty>
      ) : (
        <ul className="rows">
          {list.data.channels.map((c) => (
            <li key={c.id}>
              <Badge value="active" label={c.kind} /> <span className="mono">{c.target}</span>
              {props.admin ? (
                <Button
                  variant="danger"
                  busy={del.isPending}
                  onClick={() => del.mutate(c.id)}
                  aria-label={`Remove the ${c.kind} channel ${c.target}`}
                >
                  Remove
                </Button>
              ) : null}
            </li>
          ))}
        </ul>
      )}
      {props.admin ? (
        <form
          className="inline-form"
          aria-label="Add an email channel"
          onSubmit={(e) => {
            e.preventDefault();
            add.mutate();
          }}
        >
          <Field label="Email address">
            {(id) => (
              <input id={id} type="email" value={address} onChange={(e) => setAddress(e.target.value)} required />
            )}
          </Field>
          <Button type="submit" busy={add.isPending} disabled={address === ""}>
            Add channel
          </Button>
        </form>
      ) : null}
      {add.error ? <ErrorNotice error={add.error} /> : null}
      {del.error ? <ErrorNotice error={del.error} /> : null}
    </Card>
  );
}

function Tokens(props: { admin: boolean }) {
  const client = useQueryClient();
  const list = useQuery({
    queryKey: ["tokens"],
    enabled: props.admin,
    queryFn: async () => unwrap(await api.GET("/v1/tokens")),
  });
  const revoke = useMutation({
    mutationFn: async (id: string) => unwrap(await api.DELETE("/v1/tokens/{id}", { params: { path: { id } } })),
    onSuccess: () => void client.invalidateQueries({ queryKey: ["tokens"] }),
  });
  if (!props.admin)
    return (
      <Card title="Api tokens">
        <Empty>Only owners and admins see the workspace's tokens.</Empty>
      </Card>
    );
  return (
    <Card title="Api tokens">
      {list.isPending ? (
        <Loading />
      ) : list.error ? (
        <ErrorNotice error={list.error} />
      ) : (
        <table className="table">
          <caption className="sr-only">Api tokens</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col">Member</th>
              <th scope="col">Status</th>
              <th scope="col">Expires</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.data.tokens.map((t) => (
              <tr key={t.id}>
                <td>
                  {t.name} <span className="muted mono small">{t.id}</span>
                </td>
                <td>{t.kind}</td>
                <td className="mono small">
                  {t.memberId} ({t.role})
                </td>
                <td>
                  <Badge value={t.status} />
                </td>
                <td>
                  <Time value={t.expiresAt} />
                </td>
                <td>
                  {t.status === "live" ? (
                    <Button
                      variant="danger"
                      busy={revoke.isPending}
                      onClick={() => revoke.mutate(t.id)}
                      aria-label={`Revoke token ${t.name}`}
                    >
                      Revoke
                    </Button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {revoke.error ? <ErrorNotice error={revoke.error} /> : null}
    </Card>
  );
}

function Members() {
  const list = useQuery({ queryKey: ["members"], queryFn: async () => unwrap(await api.GET("/v1/members")) });
  return (
    <Card title="Members">
      {list.isPending ? (
        <Loading />
      ) : list.error ? (
        <ErrorNotice error={list.error} />
      ) : (
        <ul className="rows">
          {list.data.members.map((m) => (
            <li key={m.id}>
              {m.displayName ?? m.email} <span className="muted">{m.email}</span>{" "}
              <Badge value="active" label={m.role} />
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}
