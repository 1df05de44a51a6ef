/**
 * A real SMTP server on a loopback port (the `smtp-server` package, speaking RFC 5321), recording every message it
 * accepts: the envelope, the raw RFC 5322 bytes, and the headers and text decoded enough for tests. Plain SMTP with
 * optional AUTH (any credentials accepted) and no STARTTLS. `failNext(n)` answers the next n MAIL FROMs with
 * `421` (a temporary failure a client should retry); `rejectRecipient(address)` answers RCPT TO with `550`.
 */
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";

export interface ReceivedMail {
  readonly from: string;
  readonly to: readonly string[];
  readonly raw: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly subject: string;
  /** The body, quoted-printable decoded when so encoded (single-part text messages). */
  readonly text: string;
}

export interface LoopbackSmtpServer {
  readonly host: string;
  readonly port: number;
  /** `smtp://127.0.0.1:<port>` for nodemailer. */
  readonly url: string;
  readonly messages: readonly ReceivedMail[];
  /** MAIL FROM attempts, accepted or not. */
  readonly attempts: number;
  failNext(n: number): void;
  rejectRecipient(address: string): void;
  close(): Promise<void>;
}

function decodeQuotedPrintable(s: string): string {
  const bytes: number[] = [];
  const soft = s.replace(/=\r?\n/g, "");
  for (let i = 0; i < soft.length; i++) {
    const c = soft[i];
    const hex = soft.slice(i + 1, i + 3);
    if (c === "=" && /^[0-9A-F]{2}$/i.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      for (const b of Buffer.from(c ?? "", "utf8")) bytes.push(b);
    }
  }
  return Buffer.from(bytes).toString("utf8");
}

function parseMail(raw: string): { headers: Record<string, string>; text: string } {
  const split = raw.indexOf("\r\n\r\n");
  const head = split >= 0 ? raw.slice(0, split) : raw;
  const body = split >= 0 ? raw.slice(split + 4) : "";
  const headers: Record<string, string> = {};
  for (const line of head.replace(/\r\n[ \t]+/g, " ").split("\r\n")) {
    const i = line.indexOf(":");
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const encoding = (headers["content-transfer-encoding"] ?? "").toLowerCase();
  const text =
    encoding === "quoted-printable"
      ? decodeQuotedPrintable(body)
      : encoding === "base64"
        ? Buffer.from(body, "base64").toString("utf8")
        : body;
  return { headers, text: text.replace(/\r\n/g, "\n") };
}

function smtpError(message: string, responseCode: number): Error {
  return Object.assign(new Error(message), { responseCode });
}

export async function startSmtpServer(): Promise<LoopbackSmtpServer> {
  const messages: ReceivedMail[] = [];
  const rejected = new Set<string>();
  const state = { failures: 0, attempts: 0 };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onAuth(_auth, _session, callback) {
      callback(null, { user: "loopback" });
    },
    onMailFrom(_address, _session, callback) {
      state.attempts += 1;
      if (state.failures > 0) {
        state.failures -= 1;
        return callback(smtpError("Service not available, try again later", 421));
      }
      return callback();
    },
    onRcptTo(address, _session, callback) {
      if (rejected.has(address.address.toLowerCase())) return callback(smtpError("Mailbox unavailable", 550));
      return callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        const { headers, text } = parseMail(raw);
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : "";
        messages.push({
          from,
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          headers,
          subject: headers.subject ?? "",
          text,
        });
        callback();
      });
    },
  });
  const net = server.listen(0, "127.0.0.1");
  await new Promise<void>((resolve) => (net.listening ? resolve() : net.once("listening", () => resolve())));
  const { port } = net.address() as AddressInfo;
  return {
    host: "127.0.0.1",
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages,
    get attempts() {
      return state.attempts;
    },
    failNext(n: number) {
      state.failures = n;
    },
    rejectRecipient(address: string) {
      rejected.add(address.toLowerCase());
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
