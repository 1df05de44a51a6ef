/**
 * The one logger: pino, structured JSON, ids, codes and durations only. Every object logged goes through
 * `redactDeep` (by key name at any depth, and by credential shape in any string), and the message string is scrubbed
 * of credential shapes too. Never log prompts, completions or user content; the redaction is a net, not a licence.
 */
import { pino, type Logger, type LoggerOptions, type DestinationStream } from "pino";
import { redactDeep, scrubString } from "./redact.js";

export type { Logger } from "pino";

export interface CreateLoggerOptions {
  readonly name: string;
  readonly level?: LoggerOptions["level"];
  /** Where lines go (defaults to stdout); tests pass a stream to inspect output. */
  readonly destination?: DestinationStream;
  readonly base?: Record<string, string | number>;
}

export function createLogger(options: CreateLoggerOptions): Logger {
  const opts: LoggerOptions = {
    name: options.name,
    level: options.level ?? "info",
    base: { service: options.name, ...options.base },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Belt: pino's own fast-redact for the well-known paths, before our deep walk.
    redact: {
      paths: [
        "req.headers.authorization",
        "req.headers.cookie",
        "headers.authorization",
        "headers.cookie",
        "*.password",
        "*.token",
        "*.secret",
      ],
      censor: "[redacted]",
    },
    formatters: {
      log: (obj) => redactDeep(obj) as Record<string, unknown>,
    },
    hooks: {
      logMethod(args, method) {
        const scrubbed = args.map((a) => (typeof a === "string" ? scrubString(a) : a)) as Parameters<typeof method>;
        method.apply(this, scrubbed);
      },
    },
    serializers: {
      err: (err: unknown) => redactDeep(err),
      error: (err: unknown) => redactDeep(err),
    },
  };
  return options.destination ? pino(opts, options.destination) : pino(opts);
}
