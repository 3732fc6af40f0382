// Small HTTP helpers shared by the protocol and admin handlers: JSON bodies in and out, and the one
// error shape (`errorBody` of the protocol) for every non-2xx answer.
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  type ErrorCode,
  MAX_REQUEST_BYTES,
  PROTOCOL_HEADER,
  PROTOCOL_VERSION,
} from "@meridian/shared/protocol/index";

/** An error that becomes an HTTP answer with the protocol's error body. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: ErrorCode;

  constructor(status: number, code: ErrorCode, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const unauthorized = (message: string) => new ApiError(401, "unauthorized", message);
export const forbidden = (message: string) => new ApiError(403, "forbidden", message);
export const notFound = (message: string) => new ApiError(404, "not_found", message);
export const invalid = (message: string) => new ApiError(400, "invalid", message);

/** The error code that goes with an HTTP status chosen by a fault. */
export function codeForStatus(status: number): ErrorCode {
  if (status === 400) return "invalid";
  if (status === 401) return "unauthorized";
  if (status === 403) return "forbidden";
  if (status === 404) return "not_found";
  return "unavailable";
}

function baseHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return { [PROTOCOL_HEADER]: PROTOCOL_VERSION, "cache-control": "no-store", ...extra };
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(
    status,
    baseHeaders({
      "content-type": "application/json; charset=utf-8",
      "content-length": String(Buffer.byteLength(text)),
    }),
  );
  res.end(text);
}

export function sendNoContent(res: ServerResponse): void {
  res.writeHead(204, baseHeaders());
  res.end();
}

export function sendError(res: ServerResponse, err: ApiError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const extra: Record<string, string> =
    err.status === 401 ? { "www-authenticate": 'Bearer realm="meridian"' } : {};
  const text = JSON.stringify({ error: { code: err.code, message: err.message } });
  res.writeHead(
    err.status,
    baseHeaders({
      ...extra,
      "content-type": "application/json; charset=utf-8",
      "content-length": String(Buffer.byteLength(text)),
    }),
  );
  res.end(text);
}

/**
 * Reads and parses a JSON request body of at most `maxBytes` (MAX_REQUEST_BYTES; status documents
 * MAX_STATUS_BYTES); a broken or larger body is a 400 `invalid`.
 */
export async function readJson(req: IncomingMessage, maxBytes = MAX_REQUEST_BYTES): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw invalid(`request body is larger than ${maxBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") throw invalid("request body is empty; send a JSON object");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw invalid(`request body is not valid JSON: ${(err as Error).message}`);
  }
}

/** Reads a JSON body that must be an object. */
export async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const body = await readJson(req);
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw invalid("(root): request body must be a JSON object");
  }
  return body as Record<string, unknown>;
}

/**
 * Matches a path like `/v1/agents/a-1/stream` against a pattern like `/v1/agents/:agentId/stream`;
 * gives the decoded parameters, or undefined when it does not match.
 */
export function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split("/");
  const got = path.split("/");
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const g = got[i]!;
    if (w.startsWith(":")) {
      if (g === "") return undefined;
      try {
        params[w.slice(1)] = decodeURIComponent(g);
      } catch {
        return undefined;
      }
    } else if (w !== g) {
      return undefined;
    }
  }
  return params;
}
