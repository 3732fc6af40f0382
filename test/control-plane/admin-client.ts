// A small typed client of the reference control plane's admin API, for tests, the benchmark and the
// demo. Every method is one HTTP call; non-2xx answers throw AdminError.
import type {
  AgentStatus,
  DeploymentSpec,
  DeploymentSpecInput,
  DeploymentStatus,
  ErrorCode,
  WorkspaceAgentStatus,
  WorkspaceSpec,
  WorkspaceSpecInput,
} from "@meridian/shared/protocol/index";
import type { Fault, StreamFilter } from "./faults.ts";
import type { StreamInfo } from "./sse-hub.ts";

/** A workspace as PUT by the admin API: the spec without `id` (from the path) and `generation` (server-owned). */
export type WorkspaceBody = Omit<WorkspaceSpecInput, "id" | "generation" | "epoch">;
/** A deployment as PUT by the admin API: the spec without `name` (from the path) and `generation`. */
export type DeploymentBody = Omit<DeploymentSpecInput, "name" | "generation" | "epoch">;

export interface PutWorkspaceResult {
  workspace: WorkspaceSpec;
  /** False when the body equalled the stored spec: nothing was appended, no event sent. */
  changed: boolean;
  /** Id of the `workspace.upsert` event, or null when unchanged. */
  eventId: string | null;
}
export interface PutDeploymentResult {
  deployment: DeploymentSpec;
  changed: boolean;
  eventId: string | null;
}
export interface DeleteResult {
  deleted: true;
  /** Id of the last event the delete appended. */
  eventId: string | null;
}
export interface AgentRecord {
  id: string;
  lastHeartbeatAt: string | null;
  status: AgentStatus | null;
}
export interface WorkspaceRecord {
  agentId: string;
  spec: WorkspaceSpec;
  status: WorkspaceAgentStatus | null;
  lastHeartbeatAt: string | null;
}
export interface StreamsState {
  headEventId: string;
  floorEventId: string;
  changeLogSize: number;
  streams: StreamInfo[];
}
export interface WaitForStreamsFilter extends StreamFilter {
  /** How many matching streams to wait for; default 1. */
  count?: number;
  /** Only count streams opened after this instant (to wait for a reconnect). */
  connectedAfter?: Date;
}

export class AdminError extends Error {
  readonly status: number;
  readonly code: ErrorCode | undefined;

  constructor(status: number, code: ErrorCode | undefined, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const seg = encodeURIComponent;

export class AdminClient {
  readonly #url: string;
  readonly #token: string | undefined;
  readonly #fetch: typeof fetch;

  /** `fetchImpl` lets a caller pass a fetch that trusts a test CA when the server runs HTTPS. */
  constructor(url: string, adminToken?: string, fetchImpl: typeof fetch = fetch) {
    this.#url = url.replace(/\/+$/, "");
    this.#token = adminToken;
    this.#fetch = fetchImpl;
  }

  createAgent(id: string): Promise<{ id: string; token: string }> {
    return this.#call("POST", "/admin/agents", { id });
  }
  getAgent(id: string): Promise<AgentRecord> {
    return this.#call("GET", `/admin/agents/${seg(id)}`);
  }
  async getAgentStatus(id: string): Promise<AgentStatus | null> {
    return (await this.getAgent(id)).status;
  }

  listWorkspaces(agentId: string): Promise<WorkspaceSpec[]> {
    return this.#call("GET", `/admin/agents/${seg(agentId)}/workspaces`);
  }
  putWorkspace(agentId: string, id: string, body: WorkspaceBody): Promise<PutWorkspaceResult> {
    return this.#call("PUT", `/admin/agents/${seg(agentId)}/workspaces/${seg(id)}`, body);
  }
  getWorkspaceSpec(agentId: string, id: string): Promise<WorkspaceSpec> {
    return this.#call("GET", `/admin/agents/${seg(agentId)}/workspaces/${seg(id)}`);
  }
  deleteWorkspace(agentId: string, id: string): Promise<DeleteResult> {
    return this.#call("DELETE", `/admin/agents/${seg(agentId)}/workspaces/${seg(id)}`);
  }
  getWorkspace(id: string): Promise<WorkspaceRecord> {
    return this.#call("GET", `/admin/workspaces/${seg(id)}`);
  }
  async getWorkspaceStatus(id: string): Promise<WorkspaceAgentStatus | null> {
    return (await this.getWorkspace(id)).status;
  }

  listDeployments(workspaceId: string): Promise<DeploymentSpec[]> {
    return this.#call("GET", `/admin/workspaces/${seg(workspaceId)}/deployments`);
  }
  putDeployment(workspaceId: string, name: string, body: DeploymentBody): Promise<PutDeploymentResult> {
    return this.#call("PUT", `/admin/workspaces/${seg(workspaceId)}/deployments/${seg(name)}`, body);
  }
  getDeployment(workspaceId: string, name: string): Promise<DeploymentSpec> {
    return this.#call("GET", `/admin/workspaces/${seg(workspaceId)}/deployments/${seg(name)}`);
  }
  deleteDeployment(workspaceId: string, name: string): Promise<DeleteResult> {
    return this.#call("DELETE", `/admin/workspaces/${seg(workspaceId)}/deployments/${seg(name)}`);
  }
  /** The named deployment's entry of the workspace agent's latest status, or null if none reported. */
  async getDeploymentStatus(workspaceId: string, name: string): Promise<DeploymentStatus | null> {
    const path = `/admin/workspaces/${seg(workspaceId)}/deployments/${seg(name)}/status`;
    return (await this.#call<{ status: DeploymentStatus | null }>("GET", path)).status;
  }

  /** Revokes one workspace credential (`token`), or every one of the workspace; closes its streams. */
  revokeWorkspaceCredentials(
    workspaceId: string,
    token?: string,
  ): Promise<{ revoked: number; streamsClosed: number }> {
    const body = token === undefined ? {} : { token };
    return this.#call("POST", `/admin/workspaces/${seg(workspaceId)}/credentials/revoke`, body);
  }

  /**
   * A one-time install token for `agentId` (created if new), valid `ttlSeconds` (default 600); the
   * credentials it is exchanged for last `credentialTtlSeconds` (default 3600).
   */
  createInstallToken(
    agentId: string,
    opts: { ttlSeconds?: number; credentialTtlSeconds?: number } = {},
  ): Promise<{ agentId: string; installToken: string; expiresAt: string; credentialTtlSeconds: number }> {
    return this.#call("POST", `/admin/agents/${seg(agentId)}/install-token`, opts);
  }

  /** Revokes everything the agent and its workspaces authenticate with; ends their streams. */
  revokeAgent(agentId: string): Promise<{
    revoked: { installTokens: number; agentCredentials: number; workspaceCredentials: number };
    streamsClosed: number;
  }> {
    return this.#call("POST", `/admin/agents/${seg(agentId)}/revoke`, {});
  }

  /** Injects one fault (see docs/control-plane.md); the answer says what it did. */
  fault(f: Fault): Promise<Record<string, unknown>> {
    return this.#call("POST", "/admin/faults", f);
  }
  readonly faults = {
    dropStreams: (filter: StreamFilter = {}) => this.fault({ type: "drop-streams", ...filter }),
    cutNextEvent: (filter: StreamFilter = {}) => this.fault({ type: "cut-next-event", ...filter }),
    failRequests: (count: number, status = 503) => this.fault({ type: "fail-requests", count, status }),
    stallStreams: (ms: number, filter: StreamFilter = {}) =>
      this.fault({ type: "stall-streams", ms, ...filter }),
    truncateLog: () => this.fault({ type: "truncate-log" }),
    injectEvent: (stream: "agent" | "workspace", target: string, event: string, data: string) =>
      this.fault({ type: "inject-event", stream, target, event, data }),
    clear: () => this.fault({ type: "clear" }),
  };

  /** The open streams, the head and floor of the change log. */
  streams(): Promise<StreamsState> {
    return this.#call("GET", "/admin/streams");
  }

  /** Polls until at least `count` streams match; resolves with them, rejects after `timeoutMs`. */
  async waitForStreams(filter: WaitForStreamsFilter = {}, timeoutMs = 5000): Promise<StreamInfo[]> {
    const deadline = Date.now() + timeoutMs;
    const after = filter.connectedAfter?.getTime() ?? Number.NEGATIVE_INFINITY;
    for (;;) {
      const matching = (await this.streams()).streams.filter(
        (s) =>
          (filter.stream === undefined || s.stream === filter.stream) &&
          (filter.target === undefined || s.target === filter.target) &&
          Date.parse(s.connectedAt) >= after,
      );
      if (matching.length >= (filter.count ?? 1)) return matching;
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for streams ${JSON.stringify(filter)}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    const res = await this.#fetch(this.#url + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    const json = text === "" ? undefined : (JSON.parse(text) as unknown);
    if (!res.ok) {
      const err = (json as { error?: { code?: ErrorCode; message?: string } } | undefined)?.error;
      throw new AdminError(
        res.status,
        err?.code,
        `${method} ${path} answered ${res.status}: ${err?.message ?? text}`,
      );
    }
    return json as T;
  }
}
