/**
 * One run: its facts, the timeline of its steps (telemetry: tool, ms, code, iteration), and each decision as the
 * product page draws it — input → reasoning → alternatives (scores as a bar chart) → confidence → output, tools used —
 * with the command that replays it. A run of another workspace is "not found", like a missing one (the api says 404).
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Bar, BarChart, CartesianGrid, XAxis, YAxis } from "recharts";
import { api, unwrap, sessionQuery } from "../api.js";
import { Badge, Button, Card, Empty, ErrorNotice, Facts, Loading, Page, Time } from "../kit.js";
import { useLiveRuns } from "../live.js";

interface Decision {
  seq: number;
  auditEventId?: string;
  kind?: string;
  input?: unknown;
  reasoning?: unknown;
  alternatives?: { action?: string; score?: number }[];
  confidence?: number;
  output?: unknown;
  tools_used?: string[];
  occurred_at?: string;
}

export function RunDetailPage(props: { runId: string }) {
  const { runId } = props;
  useLiveRuns();
  const workspaceId = useQuery(sessionQuery).data?.workspaceId ?? "<ws>";
  const client = useQueryClient();
  const run = useQuery({
    queryKey: ["run", runId],
    queryFn: async () => unwrap(await api.GET("/v1/runs/{id}", { params: { path: { id: runId } } })),
  });
  const events = useQuery({
    queryKey: ["run", runId, "events"],
    enabled: run.isSuccess,
    queryFn: async () =>
      unwrap(await api.GET("/v1/runs/{id}/events", { params: { path: { id: runId }, query: { limit: 500 } } })),
  });
  const audit = useQuery({
    queryKey: ["run", runId, "audit"],
    enabled: run.isSuccess,
    queryFn: async () => unwrap(await api.GET("/v1/audit/events", { params: { query: { run: runId, limit: 100 } } })),
  });
  const cancel = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/v1/runs/{id}/cancel", {
          params: { path: { id: runId } },
          body: { reason: "cancelled from the console" },
        }),
      ),
    onSettled: () => void client.invalidateQueries({ queryKey: ["run", runId] }),
  });

  if (run.isPending) return <Loading />;
  if (run.error)
    return (
      <Page title="Run">
        <ErrorNotice error={run.error} />
      </Page>
    );
  const r = run.data.run;
  const active = r.status === "queued" || r.status === "running";
  const decisions = (audit.data?.events ?? []) as unknown as Decision[];
  return (
    <Page
      title={`Run ${r.id}`}
      lead={r.trigger}
      actions={
        active ? (
          <Button
            variant="danger"
            busy={cancel.isPending}
            disabled={r.cancelRequestedAt !== null}
            onClick={() => cancel.mutate()}
          >
            {r.cancelRequestedAt ? "Cancelling…" : "Cancel run"}
          </Button>
        ) : null
      }
    >
      {cancel.error ? <ErrorNotice error={cancel.error} /> : null}
      <Card title="Run">
        <Facts
          items={[
            [
              "Status",
              <Badge
                key="s"
                value={r.status}
                label={r.cancelRequestedAt && r.status === "running" ? "cancelling" : r.status}
              />,
            ],
            [
              "Skill",
              <span key="k" className="mono">
                {r.skillId}
              </span>,
            ],
            ["Source", r.source],
            ["Attempt", String(r.attempt)],
            ["Error", r.errorCode ?? "—"],
            ["Created", <Time key="c" value={r.createdAt} />],
            ["Started", <Time key="st" value={r.startedAt} />],
            ["Finished", <Time key="f" value={r.finishedAt} />],
          ]}
        />
      </Card>
      <Card title="Timeline">
        {events.isPending ? (
          <Loading />
        ) : events.error ? (
          <ErrorNotice error={events.error} />
        ) : events.data.events.length === 0 ? (
          <Empty>No step recorded yet.</Empty>
        ) : (
          <ol className="timeline">
            {events.data.events.map((e) => (
              <li key={e.id}>
                <span className="mono">{e.meta.tool_name ?? "step"}</span>
                <span className="muted"> · iteration {e.meta.iter ?? "—"}</span>
                <span> · {e.meta.ms ?? "—"} ms</span>
                {e.meta.code ? <Badge value="failed" label={e.meta.code} /> : null}
                <span className="muted small">
                  {" "}
                  <Time value={e.createdAt} />
                </span>
              </li>
            ))}
          </ol>
        )}
      </Card>
      <h2>Decisions</h2>
      {audit.isPending ? (
        <Loading />
      ) : audit.error ? (
        <ErrorNotice error={audit.error} />
      ) : decisions.length === 0 ? (
        <Empty>This run recorded no decision.</Empty>
      ) : (
        decisions.map((d) => <DecisionCard key={d.seq} d={d} workspaceId={workspaceId} />)
      )}
    </Page>
  );
}

function Json(props: { value: unknown }) {
  return <pre className="json">{JSON.stringify(props.value ?? null, null, 2)}</pre>;
}

function DecisionCard(props: { d: Decision; workspaceId: string }) {
  const d = props.d;
  const alternatives = (d.alternatives ?? []).map((a) => ({ action: a.action ?? "?", score: a.score ?? 0 }));
  const reasoning = Array.isArray(d.reasoning)
    ? (d.reasoning as unknown[]).map(String)
    : d.reasoning
      ? [String(d.reasoning)]
      : [];
  return (
    <Card title={`Decision · event ${d.seq} · ${d.kind ?? ""}`} className="decision">
      <ol className="flow">
        <li>
          <h3>Input</h3>
          <Json value={d.input} />
        </li>
        <li>
          <h3>Reasoning</h3>
          {reasoning.length ? (
            <ul>
              {reasoning.map((line, i) => (
                <li key={i}>{line}</li>
              ))}
            </ul>
          ) : (
            <Empty>—</Empty>
          )}
        </li>
        <li>
          <h3>Alternatives</h3>
          {alternatives.length ? (
            <figure aria-label="Scores of the alternatives">
              <BarChart
                width={420}
                height={40 + alternatives.length * 36}
                data={alternatives}
                layout="vertical"
                margin={{ left: 8, right: 16 }}
              >
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis type="number" domain={[0, 1]} />
                <YAxis type="category" dataKey="action" width={140} />
                <Bar dataKey="score" fill="#3559c7" isAnimationActive={false} />
              </BarChart>
              <figcaption>{alternatives.map((a) => `${a.action}: ${a.score.toFixed(2)}`).join(" · ")}</figcaption>
            </figure>
          ) : (
            <Empty>—</Empty>
          )}
        </li>
        <li>
          <h3>Confidence</h3>
          <p className="big">{typeof d.confidence === "number" ? d.confidence.toFixed(2) : "—"}</p>
        </li>
        <li>
          <h3>Output</h3>
          <Json value={d.output} />
        </li>
        <li>
          <h3>Tools used</h3>
          <p className="mono">{(d.tools_used ?? []).join(", ") || "—"}</p>
        </li>
      </ol>
      {d.auditEventId && d.kind === "skill.action" ? <ReplayDecision eventId={d.auditEventId} /> : null}
      {d.auditEventId ? (
        <p className="hint">
          Or from a terminal:{" "}
          <code>
            pnpm praxa audit replay --workspace {props.workspaceId} --event {d.auditEventId}
          </code>
        </p>
      ) : null}
    </Card>
  );
}

/**
 * "Replay this decision": the api records the request and a worker re-makes the decision from what the audit event
 * kept and what the bot can fetch again, each input checked against its recorded hash; the page polls the report.
 */
function ReplayDecision(props: { eventId: string }) {
  const [replayId, setReplayId] = useState<string | null>(null);
  const ask = useMutation({
    mutationFn: async () =>
      unwrap(await api.POST("/v1/audit/events/{id}/replay", { params: { path: { id: props.eventId } } })),
    onSuccess: (r) => setReplayId(r.replay.id),
  });
  const replay = useQuery({
    queryKey: ["replay", replayId],
    enabled: replayId !== null,
    queryFn: async () => unwrap(await api.GET("/v1/audit/replays/{id}", { params: { path: { id: replayId ?? "" } } })),
    refetchInterval: (q) => (q.state.data && ["done", "failed"].includes(q.state.data.replay.status) ? false : 1_000),
  });
  const r = replay.data?.replay;
  return (
    <div className="replay">
      <Button busy={ask.isPending} onClick={() => ask.mutate()}>
        Replay this decision
      </Button>
      {ask.error ? <ErrorNotice error={ask.error} /> : null}
      {replayId ? (
        <div role="status">
          {!r || r.status === "queued" || r.status === "running" ? (
            <p>Replaying… (a worker re-fetches the inputs as the bot)</p>
          ) : r.report ? (
            <>
              <p>
                Replay:{" "}
                <Badge value={r.report.outcome === "reproduced" ? "ok" : r.report.outcome} label={r.report.outcome} /> —
                decision {r.report.decision.status}
              </p>
              <ul className="small">
                {[...r.report.inputs, ...r.report.steps].map((c, i) => (
                  <li key={i}>{c.note}</li>
                ))}
              </ul>
            </>
          ) : (
            <p>
              Replay {r.status}
              {r.errorCode ? ` (${r.errorCode})` : ""}
            </p>
          )}
        </div>
      ) : null}
    </div>
  );
}
