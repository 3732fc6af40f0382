// The API server's refusal of a write because a ResourceQuota would be exceeded, read into its
// parts. The ResourceQuota admission plugin answers HTTP 403 Forbidden with the message
// `<kind> "<name>" is forbidden: exceeded quota: <quota>, requested: <r>, used: <u>, limited: <l>`,
// where each of r, u, l is `resource=quantity` pairs joined by commas; nothing else in the answer
// (reason `Forbidden`, no causes) tells it from an RBAC or admission refusal. Status that names the
// quota and the numbers tells the vendor what to change, which a bare `Forbidden` does not.
import { KubeApiError } from "./errors.ts";

export interface QuotaRefusal {
  /** The ResourceQuota's name. */
  quota: string;
  /** What the write asked for, e.g. `limits.memory=1Gi`. */
  requested: string;
  /** What the namespace already uses of the same resources. */
  used: string;
  /** The quota's hard limits of those resources. */
  limited: string;
}

/** `resource=quantity` pairs joined by commas (no spaces), as the plugin prints them. */
const PAIRS = "([^\\s,]+(?:,[^\\s,]+)*)";
const EXCEEDED = new RegExp(
  `exceeded quota: ([^\\s,]+), requested: ${PAIRS}, used: ${PAIRS}, limited: ${PAIRS}`,
);
/** Longer than any quota the plugin prints; an answer past it is not read (status stays short). */
const MAX_MESSAGE = 2000;

/** The quota refusal `err` carries, or undefined for any other error (other 403s included). */
export function quotaRefusalOf(err: unknown): QuotaRefusal | undefined {
  if (!(err instanceof KubeApiError) || err.status !== 403) return undefined;
  const message = err.body?.message;
  if (typeof message !== "string" || message.length > MAX_MESSAGE) return undefined;
  const m = EXCEEDED.exec(message);
  if (!m) return undefined;
  return { quota: m[1]!, requested: m[2]!, used: m[3]!, limited: m[4]! };
}

/** One sentence for a condition's message or an Event: which object, which quota, the numbers. */
export function describeQuotaRefusal(object: string, r: QuotaRefusal): string {
  return (
    `${object} cannot be created: it would exceed ResourceQuota ${r.quota} ` +
    `(requested ${r.requested}; used ${r.used}; limited ${r.limited})`
  );
}
