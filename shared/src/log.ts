// The one logger of every Meridian process: pino, JSON on stdout, fixed field names,
// secrets redacted by path. Every module takes a Logger (or a child of one); nothing
// else writes to stdout.
import { type Logger as PinoLogger, pino } from "pino";

/** Field names every log line uses. Bind them with `logger.child({ [F.workspace]: id })`. */
export const F = {
  /** The process: `meridian-agent`, `meridian-workspace-agent`, `control-plane`. Bound once, by createLogger. */
  component: "component",
  /** The part of the process a child logger speaks for (`cache`, `stream`, `leader-election`, …). */
  module: "module",
  workspace: "workspace",
  deployment: "deployment",
  namespace: "namespace",
  kind: "kind",
  name: "name",
  reconcileId: "reconcileId",
  connectionId: "connectionId",
  eventId: "eventId",
  eventType: "eventType",
  outcome: "outcome",
  reason: "reason",
  durationMs: "durationMs",
  writes: "writes",
  attempt: "attempt",
  delayMs: "delayMs",
  url: "url",
  status: "status",
  err: "err",
} as const;

export type Logger = PinoLogger;
/** The levels a process's `--log-level` accepts, most verbose first (pino's, plus `silent`). */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Paths whose values never reach a log line. Anything carrying a credential is
 * named `token`, `authorization`, `credential`, `password` or `secret` so these
 * catch it at any depth pino can express.
 */
export const REDACT_PATHS = [
  "token",
  "*.token",
  "*.*.token",
  "authorization",
  "*.authorization",
  "*.*.authorization",
  "headers.authorization",
  "*.headers.authorization",
  "*.*.headers.authorization",
  "credential",
  "*.credential",
  "*.*.credential",
  "password",
  "*.password",
  "*.*.password",
  "secret",
  "*.secret",
  "*.*.secret",
  // Secret objects: their data never appears, whatever the nesting.
  "data",
  "*.data",
  "*.*.data",
  "stringData",
  "*.stringData",
  "*.*.stringData",
];

/** Fields of error objects (and their causes) that can carry credentials: HTTP headers, process output. */
const ERROR_FIELDS_DROPPED = [
  "headers",
  "request",
  "response",
  "config",
  "stdout",
  "stderr",
  "body",
  "options",
];

/** pino's errWithCause, minus the fields above at every level of the cause chain. */
export function serializeError(err: unknown): unknown {
  const out = pino.stdSerializers.errWithCause(err as Error) as unknown;
  const strip = (v: unknown, depth: number): void => {
    if (!v || typeof v !== "object" || depth > 8) return;
    const o = v as Record<string, unknown>;
    for (const f of ERROR_FIELDS_DROPPED) delete o[f];
    strip(o.cause, depth + 1);
  };
  strip(out, 0);
  return out;
}

export interface LoggerOptions {
  level?: LogLevel;
  component: string;
  /** Where lines go; stdout unless a test passes a stream. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      level: opts.level ?? "info",
      base: { [F.component]: opts.component },
      timestamp: pino.stdTimeFunctions.isoTime,
      messageKey: "msg",
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: "[REDACTED]" },
      serializers: { err: serializeError },
    },
    // biome-ignore lint/suspicious/noExplicitAny: pino accepts any writable stream
    (opts.destination as any) ?? pino.destination({ fd: 1, sync: false }),
  );
}

/** A logger that discards everything, for tests that do not read logs. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
