/**
 * One Skill: its acceptance rate over time against the published threshold (the pause marked), pause and resume with
 * a reason — resume only for a human owner or admin (the button says why it is disabled otherwise) — and its
 * versions with the manifest diff between each and the one before.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { CartesianGrid, Line, LineChart, ReferenceLine, XAxis, YAxis } from "recharts";
import { api, isAdmin, unwrap, sessionQuery } from "../api.js";
import { Badge, Button, Card, Empty, ErrorNotice, Facts, Field, Loading, Notice, Page, Time } from "../kit.js";

export function SkillDetailPage(props: { skillId: string }) {
  const { skillId } = props;
  const client = useQueryClient();
  const session = useQuery(sessionQuery);
  const skill = useQuery({
    queryKey: ["skill", skillId],
    queryFn: async () => unwrap(await api.GET("/v1/skills/{id}", { params: { path: { id: skillId } } })),
  });
  const acceptance = useQuery({
    queryKey: ["skill", skillId, "acceptance"],
    enabled: skill.isSuccess,
    queryFn: async () =>
      unwrap(
        await api.GET("/v1/skills/{id}/acceptance", { params: { path: { id: skillId }, query: { samples: 200 } } }),
      ),
  });
  const [reason, setReason] = useState("");
  const refresh = () => {
    setReason("");
    void client.invalidateQueries({ queryKey: ["skill", skillId] });
    void client.invalidateQueries({ queryKey: ["skills"] });
  };
  const pause = useMutation({
    mutationFn: async () =>
      unwrap(await api.POST("/v1/skills/{id}/pause", { params: { path: { id: skillId } }, body: { reason } })),
    onSuccess: refresh,
  });
  const resume = useMutation({
    mutationFn: async () =>
      unwrap(await api.POST("/v1/skills/{id}/resume", { params: { path: { id: skillId } }, body: { reason } })),
    onSuccess: refresh,
  });

  if (skill.isPending) return <Loading />;
  if (skill.error)
    return (
      <Page title="Skill">
        <ErrorNotice error={skill.error} />
      </Page>
    );
  const s = skill.data.skill;
  const admin = isAdmin(session.data);
  const whyNot = admin
    ? null
    : `Only a workspace owner or admin may ${s.status === "paused" ? "resume" : "pause"} a Skill; you are a ${session.data?.role ?? "guest"}.`;
  const a = acceptance.data;
  const threshold = a?.acceptance?.threshold ?? a?.samples[0]?.threshold ?? null;
  const points = (a?.samples ?? [])
    .map((p) => ({ t: new Date(p.sampledAt).getTime(), rate: p.rate, decided: p.decided }))
    .sort((x, y) => x.t - y.t);
  const pausedAt = s.pausedAt ? new Date(s.pausedAt).getTime() : null;
  const versions = [...skill.data.versions].sort((x, y) => y.version - x.version);
  return (
    <Page title={s.name} lead={<span className="mono">{s.slug}</span>}>
      <Card title="Status">
        <Facts
          items={[
            ["Status", <Badge key="s" value={s.status} />],
            ["Paused because", s.pausedReason ?? "—"],
            ["Paused at", <Time key="p" value={s.pausedAt} />],
            [
              "Acceptance",
              a?.acceptance && a.acceptance.rate !== null
                ? `${(a.acceptance.rate * 100).toFixed(1)} % of ${a.acceptance.decided} decided` +
                  (a.acceptance.threshold !== null ? ` (threshold ${(a.acceptance.threshold * 100).toFixed(0)} %)` : "")
                : "not enough decisions yet",
            ],
          ]}
        />
        <form
          className="inline-form"
          aria-label={s.status === "paused" ? "Resume this Skill" : "Pause this Skill"}
          onSubmit={(e) => {
            e.preventDefault();
            if (s.status === "paused") resume.mutate();
            else pause.mutate();
          }}
        >
          <Field label="Reason" hint="Recorded, signed, in the audit log.">
            {(id) => (
              <input
                id={id}
                value={reason}
                required
                maxLength={500}
                disabled={!admin}
                onChange={(e) => setReason(e.target.value)}
              />
            )}
          </Field>
          <Button
            type="submit"
            variant={s.status === "paused" ? "primary" : "danger"}
            disabled={!admin || reason.trim() === ""}
            busy={pause.isPending || resume.isPending}
            aria-describedby={whyNot ? "why-not" : undefined}
          >
            {s.status === "paused" ? "Resume" : "Pause"}
          </Button>
          {whyNot ? (
            <p id="why-not" className="hint">
              {whyNot}
            </p>
          ) : null}
        </form>
        {pause.error ? <ErrorNotice error={pause.error} /> : null}
        {resume.error ? <ErrorNotice error={resume.error} /> : null}
        {pause.isSuccess ? <Notice tone="good">Paused.</Notice> : null}
        {resume.isSuccess ? <Notice tone="good">Resumed.</Notice> : null}
      </Card>
      <Card title="Acceptance over time">
        {acceptance.isPending ? (
          <Loading />
        ) : acceptance.error ? (
          <ErrorNotice error={acceptance.error} />
        ) : points.length === 0 ? (
          <Empty>No acceptance sample yet: the monitor records one as decisions are accepted or rejected.</Empty>
        ) : (
          <figure aria-label="Acceptance rate over time, with the threshold and the pause">
            <LineChart width={720} height={260} data={points} margin={{ top: 12, right: 24, bottom: 12, left: 0 }}>
              <CartesianGrid strokeDasharray="3 3" />
              <XAxis
                dataKey="t"
                type="number"
                domain={["dataMin", "dataMax"]}
                scale="time"
                tickFormatter={(t: number) => new Date(t).toLocaleDateString()}
              />
              <YAxis domain={[0, 1]} tickFormatter={(v: number) => `${Math.round(v * 100)}%`} />
              <Line dataKey="rate" stroke="#3559c7" dot={false} isAnimationActive={false} />
              {threshold !== null ? (
                <ReferenceLine y={threshold} stroke="#b42318" strokeDasharray="6 4" label="threshold" />
              ) : null}
              {pausedAt !== null ? <ReferenceLine x={pausedAt} stroke="#b54708" label="paused" /> : null}
            </LineChart>
            <figcaption>
              {points.length} samples; threshold {threshold !== null ? `${Math.round(threshold * 100)} %` : "—"}
              {pausedAt !== null ? `; paused ${new Date(pausedAt).toLocaleString()}` : ""}.
            </figcaption>
          </figure>
        )}
      </Card>
      <Card title="Versions">
        {versions.length === 0 ? (
          <Empty>No version.</Empty>
        ) : (
          <ol className="versions">
            {versions.map((v, i) => {
              const prev = versions[i + 1];
              return (
                <li key={v.id}>
                  <details>
                    <summary>
                      v{v.version} · <span className="mono small">{v.manifestHash.slice(0, 16)}</span> ·{" "}
                      <Time value={v.createdAt} />
                    </summary>
                    <Diff
                      before={prev ? JSON.stringify(prev.manifest, null, 2) : ""}
                      after={JSON.stringify(v.manifest, null, 2)}
                    />
                  </details>
                </li>
              );
            })}
          </ol>
        )}
      </Card>
    </Page>
  );
}

/** A line diff of two manifests (longest common subsequence; manifests are small). */
function Diff(props: { before: string; after: string }) {
  const a = props.before ? props.before.split("\n") : [];
  const b = props.after.split("\n");
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const out: { op: " " | "+" | "-"; line: string }[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      out.push({ op: " ", line: a[i]! });
      i++;
      j++;
    } else if (j < m && (i >= n || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) out.push({ op: "+", line: b[j++]! });
    else out.push({ op: "-", line: a[i++]! });
  }
  return (
    <pre className="diff" aria-label="Manifest changes from the previous version">
      {out.map((l, k) => (
        <span key={k} className={l.op === "+" ? "add" : l.op === "-" ? "del" : ""}>
          {l.op} {l.line}
          {"\n"}
        </span>
      ))}
    </pre>
  );
}
