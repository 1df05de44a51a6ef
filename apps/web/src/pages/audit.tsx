/**
 * Audit: find the signed events of a Skill, a run, a trigger or a time range; verify the whole chain (the result, and
 * the first bad seq if any); download the export — events, leaves, checkpoints and the public keys that verify them,
 * offline, with `praxa audit verify --file`.
 */
import { useMutation, useQuery } from "@tanstack/react-query";
import { Link, useNavigate } from "@tanstack/react-router";
import { api, isAdmin, unwrap, sessionQuery } from "../api.js";
import { Badge, Button, Card, Empty, ErrorNotice, Field, Loading, Notice, Page, Time } from "../kit.js";
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
          <Field label="From">
            {(id) => (
              <input
                id={id}
                type="datetime-local"
                value={search.from ?? ""}
                onChange={(e) => setFilter({ from: e.target.value || undefined })}
              />
            )}
          </Field>
          <Field label="To">
            {(id) => (
              <input
                id={id}
                type="datetime-local"
                value={search.to ?? ""}
                onChange={(e) => setFilter({ to: e.target.value || undefined })}
              />
            )}
          </Field>
        </form>
      </Card>
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
