// The zod schemas settings are built from. Each takes the raw text of a flag or variable (undefined
// when nothing set it) and yields the typed value, or an issue whose message says what is wrong with
// the value (settings.ts adds which setting, from where, and what was expected).
import { z } from "zod";
import { PinnedKeys } from "../controlplane/verify.ts";
import { LOG_LEVELS } from "../log.ts";
import { parsePublicKey } from "../protocol/signing.ts";

const required = () => z.string({ error: "is required" }).trim();

/** A non-empty string. */
export const text = required().min(1, "must not be empty");

/** A string, or undefined when unset or blank. */
export const optionalText = z
  .string()
  .trim()
  .optional()
  .transform((v) => (v ? v : undefined));

/** An http(s) URL without trailing slashes (the paths are appended to it). */
export const httpUrl = required()
  .refine((v) => /^https?:\/\/[^/]+/.test(v) && URL.canParse(v), "must be an http(s) URL")
  .transform((v) => v.replace(/\/+$/, ""));

/** A DNS label (RFC 1123): namespace names, Secret names, workspace ids. */
export const dnsLabel = required()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a DNS label (lowercase letters, digits and '-')")
  .max(63, "must be at most 63 characters");

/** `host:port`, IPv6 hosts in brackets. */
export const hostPort = required().refine((v) => {
  const m = /^.*:(\d{1,5})$/.exec(v);
  return m !== null && Number(m[1]) <= 65535;
}, "must be host:port");

/** A comma-separated list; blanks dropped. */
export const list = z
  .string()
  .optional()
  .transform((v) =>
    (v ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  );

/**
 * The control plane's pinned Ed25519 public keys, comma-separated (each PEM or the base64 of its 32
 * raw bytes); empty: nothing pinned, events are not verified (docs/decisions.md 41).
 */
export const signingPublicKeys = list.transform((entries, ctx) => {
  const keys = [];
  for (const [i, entry] of entries.entries()) {
    try {
      keys.push(parsePublicKey(entry));
    } catch (err) {
      ctx.addIssue({ code: "custom", message: `key ${i + 1}: ${(err as Error).message}` });
      return z.NEVER;
    }
  }
  return new PinnedKeys(keys);
});

export const bool = z.string().transform((v, ctx) => {
  const s = v.trim().toLowerCase();
  if (["true", "1", "yes"].includes(s)) return true;
  if (["false", "0", "no"].includes(s)) return false;
  ctx.addIssue({ code: "custom", message: `"${v}" is not true or false` });
  return z.NEVER;
});

export const logLevel = z
  .string()
  .transform((v) => v.trim().toLowerCase())
  .pipe(z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(", ")}` }));

/** `what ... or silent`, for a setting's `expected`. */
export const LOG_LEVELS_EXPECTED = `${LOG_LEVELS.slice(0, -1).join(", ")} or ${LOG_LEVELS.at(-1)}`;

export const integer = (min: number, max: number) =>
  z.string().transform((raw, ctx) => {
    const n = Number(raw.trim());
    if (raw.trim() === "" || !Number.isInteger(n) || n < min || n > max) {
      ctx.addIssue({ code: "custom", message: `"${raw}" is not an integer from ${min} to ${max}` });
      return z.NEVER;
    }
    return n;
  });

/** `1500`, `1500ms`, `15s`, `2m`, `1h` → milliseconds, at least `minMs`. */
export const duration = (minMs: number) =>
  z.string().transform((raw, ctx) => {
    const ms = parseDurationMs(raw);
    if (ms === undefined || ms < minMs) {
      ctx.addIssue({ code: "custom", message: `"${raw}" is not a duration of at least ${minMs} ms` });
      return z.NEVER;
    }
    return ms;
  });

/** `1500`, `1500ms`, `15s`, `2m`, `1h` → milliseconds; undefined when unreadable. */
export function parseDurationMs(raw: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(raw);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? "ms"] ?? 1;
  return Math.round(n * unit);
}

/** A Flink file system URI with a scheme (`s3://…`, `file:///…`), trailing slashes dropped; optional. */
export const fileSystemUri = optionalText.pipe(
  z
    .string()
    .transform((v) => v.replace(/\/+$/, ""))
    .refine((v) => /^[a-z][a-z0-9+.-]*:\/\//.test(v), "must be a URI with a scheme such as s3://")
    .optional(),
);

/**
 * A setting whose value is JSON text that `schema` checks (unset or blank: `fallback`). `problems`
 * names what a value the schema accepted still gets wrong (contradictions between its fields). Text
 * that is no JSON, or every problem with it, is one issue.
 */
export function jsonText<S extends z.ZodType>(
  schema: S,
  fallback: z.output<S>,
  problems: (value: z.output<S>) => string[] = () => [],
) {
  return z
    .string()
    .optional()
    .transform((raw, ctx): z.output<S> => {
      if (raw === undefined || raw.trim() === "") return fallback;
      let json: unknown;
      try {
        json = JSON.parse(raw);
      } catch (err) {
        ctx.addIssue({ code: "custom", message: `is not JSON (${(err as Error).message})` });
        return z.NEVER;
      }
      const parsed = schema.safeParse(json);
      const found = parsed.success
        ? problems(parsed.data)
        : parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
      if (found.length > 0 || !parsed.success) {
        ctx.addIssue({ code: "custom", message: found.join("; ") });
        return z.NEVER;
      }
      return parsed.data;
    });
}
