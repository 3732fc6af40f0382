// Helpers for the reference control plane's own tests: a server on a temporary database, raw
// protocol calls with fetch, and a deliberately minimal SSE reader (not the shared client).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PROTOCOL_HEADER, PROTOCOL_VERSION } from "@meridian/shared/protocol/index";
import type { DeploymentBody, WorkspaceBody } from "./admin-client.ts";
import { type ControlPlane, type ControlPlaneOptions, startControlPlane } from "./server.ts";

export const WORKSPACE: WorkspaceBody = { quota: { cpu: "4", memory: "8Gi" } };
export const DEPLOYMENT: DeploymentBody = {
  image: "flink:2.1",
  job: { jarURI: "local:///opt/flink/usrlib/job.jar", entryClass: "org.example.Job" },
  parallelism: 2,
  jobManager: { resources: { cpu: "1", memory: "1Gi" } },
  taskManager: { resources: { cpu: "1", memory: "1536Mi" }, taskSlots: 1 },
  state: "RUNNING",
};

export interface TestServer {
  cp: ControlPlane;
  dbPath: string;
  /** Stops the server (if running) and removes its database. */
  cleanup(): Promise<void>;
}

export async function startTestServer(opts: Partial<ControlPlaneOptions> = {}): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), "meridian-cp-"));
  const dbPath = join(dir, "cp.db");
  const cp = await startControlPlane({ dbPath, ...opts });
  return {
    cp,
    dbPath,
    cleanup: async () => {
      await cp.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** One protocol request with the version header (unless overridden) and an optional bearer token. */
export function call(
  cp: { url: string },
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers: Record<string, string> = { [PROTOCOL_HEADER]: PROTOCOL_VERSION, ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  return fetch(cp.url + path, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
}

/** An agent with one workspace; returns the agent's token. */
export async function agentWithWorkspace(
  cp: ControlPlane,
  agentId: string,
  workspaceId: string,
): Promise<string> {
  const { token } = await cp.admin.createAgent(agentId);
  await cp.admin.putWorkspace(agentId, workspaceId, WORKSPACE);
  return token;
}

export interface SseMessage {
  id: string | undefined;
  event: string;
  data: string;
}

/** Reads an event stream: complete messages in order, plus a count of comment lines. */
export class SseReader {
  readonly response: Response;
  comments = 0;
  readonly #queue: SseMessage[] = [];
  readonly #abort: AbortController;
  #wake: (() => void) | undefined;
  #ended: Error | undefined;
  #buffer = "";
  /** Resolves when the body ends or fails, with the reason. */
  readonly ended: Promise<Error>;

  private constructor(response: Response, abort: AbortController) {
    this.response = response;
    this.#abort = abort;
    this.ended = this.#pump();
  }

  static async open(
    cp: { url: string },
    path: string,
    token: string,
    lastEventId?: string,
  ): Promise<SseReader> {
    const abort = new AbortController();
    const headers: Record<string, string> = {
      [PROTOCOL_HEADER]: PROTOCOL_VERSION,
      authorization: `Bearer ${token}`,
      accept: "text/event-stream",
    };
    if (lastEventId !== undefined) headers["last-event-id"] = lastEventId;
    const response = await fetch(cp.url + path, { headers, signal: abort.signal });
    if (response.status !== 200) {
      throw new Error(`stream ${path} answered ${response.status}: ${await response.text()}`);
    }
    return new SseReader(response, abort);
  }

  /** The next complete message; rejects after `timeoutMs` or when the stream ends first. */
  async next(timeoutMs = 3000): Promise<SseMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const msg = this.#queue.shift();
      if (msg) return msg;
      if (this.#ended) throw new Error(`stream ended before the next message: ${this.#ended.message}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no message within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Messages received so far and not yet taken by next(). */
  pending(): number {
    return this.#queue.length;
  }

  /** Bytes received after the last complete message (a message cut in the middle). */
  partial(): string {
    return this.#buffer;
  }

  close(): void {
    this.#abort.abort();
  }

  async #pump(): Promise<Error> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of this.response.body as AsyncIterable<Uint8Array>) {
        this.#buffer += decoder.decode(chunk, { stream: true });
        for (let end = this.#buffer.indexOf("\n\n"); end >= 0; end = this.#buffer.indexOf("\n\n")) {
          this.#parseBlock(this.#buffer.slice(0, end));
          this.#buffer = this.#buffer.slice(end + 2);
        }
      }
      this.#ended = new Error("the server ended the stream");
    } catch (err) {
      this.#ended = err as Error;
    }
    this.#wake?.();
    return this.#ended;
  }

  #parseBlock(block: string): void {
    let id: string | undefined;
    let event = "message";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) this.comments++;
      else if (line.startsWith("id: ")) id = line.slice(4);
      else if (line.startsWith("event: ")) event = line.slice(7);
      else if (line.startsWith("data: ")) data.push(line.slice(6));
    }
    if (data.length === 0) return;
    this.#queue.push({ id, event, data: data.join("\n") });
    this.#wake?.();
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
