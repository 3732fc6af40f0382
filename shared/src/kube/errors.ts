// The one error type of the Kubernetes helpers, and the questions callers ask of it.

/** The `Status` object the API server sends with a non-2xx answer. */
export interface KubeStatus {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: {
    name?: string;
    kind?: string;
    causes?: { reason?: string; message?: string; field?: string }[];
  };
}

export class KubeApiError extends Error {
  readonly status: number;
  readonly reason: string | undefined;
  readonly body: KubeStatus | undefined;

  constructor(method: string, path: string, status: number, body: KubeStatus | undefined) {
    const detail = body?.message ? `: ${body.message}` : "";
    super(`${method} ${path} answered ${status}${body?.reason ? ` ${body.reason}` : ""}${detail}`);
    this.name = "KubeApiError";
    this.status = status;
    this.reason = body?.reason;
    this.body = body;
  }
}

export function statusFromBody(text: string): KubeStatus | undefined {
  try {
    const parsed = JSON.parse(text) as KubeStatus;
    return typeof parsed === "object" && parsed !== null ? parsed : undefined;
  } catch {
    return text ? { message: text.slice(0, 500) } : undefined;
  }
}

export const isNotFound = (err: unknown): boolean => err instanceof KubeApiError && err.status === 404;
export const isConflict = (err: unknown): boolean => err instanceof KubeApiError && err.status === 409;
export const isGone = (err: unknown): boolean => err instanceof KubeApiError && err.status === 410;
export const isForbidden = (err: unknown): boolean => err instanceof KubeApiError && err.status === 403;
export const isAlreadyExists = (err: unknown): boolean =>
  err instanceof KubeApiError && err.status === 409 && err.reason === "AlreadyExists";

/**
 * Retrying cannot help without a change first (bad request, refused by RBAC or admission,
 * invalid object). Everything else — timeouts, 429, 5xx, connection errors — is worth retrying.
 */
export function isTerminal(err: unknown): boolean {
  if (!(err instanceof KubeApiError)) return false;
  return err.status === 400 || err.status === 401 || err.status === 403 || err.status === 422;
}

/** A short reason for metrics and logs: `Forbidden`, `Conflict`, `Timeout`, `Network`, ... */
export function reasonOf(err: unknown): string {
  if (err instanceof KubeApiError) return err.reason ?? `Http${err.status}`;
  const cause = (err as { cause?: { name?: string } })?.cause;
  if (cause?.name === "TimeoutError" || (err as Error)?.name === "TimeoutError") return "Timeout";
  if (cause?.name === "AbortError" || (err as Error)?.name === "AbortError") return "Aborted";
  return "Network";
}
