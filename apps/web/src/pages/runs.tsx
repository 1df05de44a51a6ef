/**
 * Runs: what ran, what is running, what failed — filtered by status, Skill, trigger and time (all in the URL), live
 * (server-sent events), with bulk cancel (queued/running) and redrive (failed) for members and up.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate } from "@tanstack/react-router";
import { useState } from "react";
import { api, unwrap } from "../api.js";
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
import { useLiveRuns } from "../live.js";
import type { RunsSearch } from "../router.js";

type Run = NonNullable<Awaited<ReturnType<typeof listRuns>>>["runs"][number];
const STATUSES = ["queued", "running", "succeeded", "failed", "skipped", "cancelled"] as const;

async function listRuns(search: RunsSearch) {
  return unwrap(
    await api.GET("/v1/runs", {
      params: {
        query: {
          ...(search.status ? { status: search.status } : {}),
          ...(search.skill ? { skill: search.skill } : {}),
          ...(search.trigger ? { trigger: search.trigger } : {}),
          ...(search.from ? { from: new Date(search.from).toISOString() } : {}),
          ...(search.to ? { to: new Date(search.to).toISOString() } : {}),
          limit: 100,
        },
      },
    }),
  );
}

export function RunsPage(props: { search: RunsSearch }) {
  const search = props.search;
  const navigate = useNavigate();
  const client = useQueryClient();
  const live = useLiveRuns();
  const runs = useQuery({ queryKey: ["runs", search], queryFn: () => listRuns(search) });
  const skills = useQuery({ queryKey: ["skills"], queryFn: async () => unwrap(await api.GET("/v1/skills")) });
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [result, setResult] = useState<string | null>(null);
  const setFilter = (patch: Partial<RunsSearch>) =>
    void navigate({ to: "/runs", search: (prev: RunsSearch) => clean({ ...prev, ...patch }) });

  const rows: Run[] = runs.data?.runs ?? [];
  const chosen = rows.filter((r) => selected.has(r.id));
  const cancellable = chosen.filter((r) => r.status === "queued" || r.status === "running");
  const redrivable = chosen.filter((r) => r.status === "failed");

  const cancel = useMutation({
    mutationFn: async () => {
      let done = 0;
      for (const r of cancellable) {
        unwrap(
          await api.POST("/v1/runs/{id}/cancel", {
            params: { path: { id: r.id } },
            body: { reason: "cancelled from the console" },
          }),
        );
        done++;
      }
      return done;
    },
    onSuccess: (n) => setResult(`${n} run(s) cancelled or cancelling.`),
    onSettled: () => {
      setSelected(new Set());
      void client.invalidateQueries({ queryKey: ["runs"] });
    },
  });
  const redrive = useMutation({
    mutationFn: async () => {
      let done = 0;
      for (const r of redrivable) {
        unwrap(await api.POST("/v1/runs/{id}/retry", { params: { path: { id: r.id } } }));
        done++;
      }
      return done;
    },
    onSuccess: (n) => setResult(`${n} run(s) redriven.`),
    onSettled: () => {
      setSelected(new Set());
      void client.invalidateQueries({ queryKey: ["runs"] });
    },
  });

  const skillName = (id: string) => skills.data?.skills.find((s) => s.id === id)?.name ?? id;
  return (
    <Page
      title="Runs"
      lead="Every run of your Skills: filter, open one to see its decision, cancel or redrive in bulk."
      actions={
        <span className={`live live-${live}`}>
          {live === "live" ? "● Live" : live === "connecting" ? "Connecting…" : "Offline"}
        </span>
      }
    >
      <Card>
        <form className="filters" aria-label="Filter runs" onSubmit={(e) => e.preventDefault()}>
          <Field label="Status">
            {(id) => (
              <select
                id={id}
                value={search.status ?? ""}
                onChange={(e) => setFilter({ status: (e.target.value || undefined) as RunsSearch["status"] })}
              >
                <option value="">Any</option>
                {STATUSES.map((s) => (
                  <option key={s} value={s}>
                    {s}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Skill">
            {(id) => (
              <select
                id={id}
                value={search.skill ?? ""}
                onChange={(e) => setFilter({ skill: e.target.value || undefined })}
              >
                <option value="">Any</option>
                {skills.data?.skills.map((s) => (
                  <option key={s.id} value={s.id}>
                    {s.name}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Trigger">
            {(id) => (
              <input
                id={id}
                defaultValue={search.trigger ?? ""}
                placeholder="github.pull_request.opened"
                onBlur={(e) => setFilter({ trigger: e.target.value.trim() || undefined })}
              />
            )}
          </Field>
          <TimeRangeFields from={search.from} to={search.to} onChange={setFilter} />
        </form>
      </Card>
      <div className="bulk" role="group" aria-label="Bulk actions">
        <span>{chosen.length} selected</span>
        <Button
          variant="danger"
          disabled={cancellable.length === 0}
          busy={cancel.isPending}
          onClick={() => cancel.mutate()}
        >
          Cancel {cancellable.length || ""}
        </Button>
        <Button disabled={redrivable.length === 0} busy={redrive.isPending} onClick={() => redrive.mutate()}>
          Redrive {redrivable.length || ""}
        </Button>
      </div>
      {result ? <Notice tone="good">{result}</Notice> : null}
      {cancel.error ? <ErrorNotice error={cancel.error} /> : null}
      {redrive.error ? <ErrorNotice error={redrive.error} /> : null}
      {runs.isPending ? (
        <Loading />
      ) : runs.error ? (
        <ErrorNotice error={runs.error} />
      ) : rows.length === 0 ? (
        <Empty>No run matches these filters.</Empty>
      ) : (
        <table className="table">
          <caption className="sr-only">Runs</caption>
          <thead>
            <tr>
              <th scope="col">
                <input
                  type="checkbox"
                  aria-label="Select all runs"
                  checked={rows.length > 0 && selected.size === rows.length}
                  onChange={(e) => setSelected(e.target.checked ? new Set(rows.map((r) => r.id)) : new Set())}
                />
              </th>
              <th scope="col">Run</th>
              <th scope="col">Status</th>
              <th scope="col">Skill</th>
              <th scope="col">Trigger</th>
              <th scope="col">Created</th>
              <th scope="col">Finished</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.id}>
                <td>
                  <input
                    type="checkbox"
                    aria-label={`Select run ${r.id}`}
                    checked={selected.has(r.id)}
                    onChange={(e) => {
                      const next = new Set(selected);
                      if (e.target.checked) next.add(r.id);
                      else next.delete(r.id);
                      setSelected(next);
                    }}
                  />
                </td>
                <td>
                  <Link to="/runs/$runId" params={{ runId: r.id }} className="mono">
                    {r.id}
                  </Link>
                </td>
                <td>
                  <Badge
                    value={r.status}
                    label={r.cancelRequestedAt && r.status === "running" ? "cancelling" : r.status}
                  />
                  {r.errorCode ? <span className="muted small"> {r.errorCode}</span> : null}
                </td>
                <td>{skillName(r.skillId)}</td>
                <td className="mono small">{r.trigger}</td>
                <td>
                  <Time value={r.createdAt} />
                </td>
                <td>
                  <Time value={r.finishedAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}

function clean(s: RunsSearch): RunsSearch {
  return Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined && v !== "")) as RunsSearch;
}
