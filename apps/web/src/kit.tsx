/**
 * The console's small component kit: page frame, buttons, badges, tables, fields, notices. Plain semantic HTML with
 * visible focus and labels (axe runs on every page in test/browser), styled by styles.css — no inline style.
 */
import { useId, type ButtonHTMLAttributes, type ReactNode } from "react";
import { ApiFailure } from "./api.js";

export function Page(props: { title: string; lead?: ReactNode; actions?: ReactNode; children: ReactNode }) {
  return (
    <section className="page" aria-labelledby="page-title">
      <header className="page-head">
        <div>
          <h1 id="page-title">{props.title}</h1>
          {props.lead ? <p className="lead">{props.lead}</p> : null}
        </div>
        {props.actions ? <div className="actions">{props.actions}</div> : null}
      </header>
      {props.children}
    </section>
  );
}

export function Card(props: { title?: string; children: ReactNode; className?: string }) {
  const id = useId();
  return (
    <section className={`card ${props.className ?? ""}`} aria-labelledby={props.title ? id : undefined}>
      {props.title ? <h2 id={id}>{props.title}</h2> : null}
      {props.children}
    </section>
  );
}

export function Button(
  props: ButtonHTMLAttributes<HTMLButtonElement> & { variant?: "primary" | "danger" | "plain"; busy?: boolean },
) {
  const { variant = "plain", busy, className, children, disabled, ...rest } = props;
  return (
    <button
      type="button"
      {...rest}
      disabled={disabled || busy}
      aria-busy={busy || undefined}
      className={`btn btn-${variant} ${className ?? ""}`}
    >
      {children}
    </button>
  );
}

const TONES: Record<string, string> = {
  succeeded: "good",
  active: "good",
  live: "good",
  ok: "good",
  running: "info",
  queued: "info",
  pending_confirmation: "warn",
  paused: "warn",
  skipped: "muted",
  cancelled: "muted",
  expired: "muted",
  failed: "bad",
  revoked: "bad",
  suspended: "bad",
};

export function Badge(props: { value: string; label?: string }) {
  return <span className={`badge badge-${TONES[props.value] ?? "muted"}`}>{props.label ?? props.value}</span>;
}

export function Field(props: { label: string; hint?: string; children: (id: string) => ReactNode }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      {props.children(id)}
      {props.hint ? <p className="hint">{props.hint}</p> : null}
    </div>
  );
}

/** The From / To pair of a list's time filter (`datetime-local`; empty = no bound), kept in the URL by the page. */
export function TimeRangeFields(props: {
  from: string | undefined;
  to: string | undefined;
  onChange: (patch: { from?: string | undefined; to?: string | undefined }) => void;
}) {
  return (
    <>
      <Field label="From">
        {(id) => (
          <input
            id={id}
            type="datetime-local"
            value={props.from ?? ""}
            onChange={(e) => props.onChange({ from: e.target.value || undefined })}
          />
        )}
      </Field>
      <Field label="To">
        {(id) => (
          <input
            id={id}
            type="datetime-local"
            value={props.to ?? ""}
            onChange={(e) => props.onChange({ to: e.target.value || undefined })}
          />
        )}
      </Field>
    </>
  );
}

export function ErrorNotice(props: { error: unknown }) {
  const e = props.error;
  const notFound = e instanceof ApiFailure && (e.status === 404 || e.code === "NOT_FOUND" || e.code === "INVALID_ID");
  const text = notFound
    ? "Not found. It does not exist in this workspace."
    : e instanceof ApiFailure
      ? `${e.message} (${e.code})`
      : e instanceof Error
        ? e.message
        : "Something went wrong.";
  return (
    <div role="alert" className="notice notice-bad">
      {text}
    </div>
  );
}

export function Notice(props: { tone?: "good" | "bad" | "info"; children: ReactNode }) {
  return (
    <div role="status" className={`notice notice-${props.tone ?? "info"}`}>
      {props.children}
    </div>
  );
}

export function Empty(props: { children: ReactNode }) {
  return <p className="empty">{props.children}</p>;
}

export function Loading() {
  return (
    <p className="loading" role="status">
      Loading…
    </p>
  );
}

export function Time(props: { value: string | null | undefined }) {
  if (!props.value) return <span className="muted">—</span>;
  const d = new Date(props.value);
  return (
    <time dateTime={props.value} title={d.toISOString()}>
      {d.toLocaleString()}
    </time>
  );
}

/** A definition list of label → value. */
export function Facts(props: { items: [string, ReactNode][] }) {
  return (
    <dl className="facts">
      {props.items.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}
