// Where bearer tokens come from. The agent trades the one-time install token of its Secret for a
// short-lived credential (`exchangeInstallToken`) that it renews (`refreshAgentCredential`); a
// workspace agent reads its workspace credential from a Secret the agent keeps fresh. The agent
// mints those credentials with `requestWorkspaceCredential`.
import { readFile, stat } from "node:fs/promises";
import {
  type AgentCredential,
  agentCredential,
  paths,
  REFRESH_AT_REMAINING_FRACTION,
  type WorkspaceCredential,
  workspaceCredential,
} from "@meridian/shared/protocol/index";
import { ProtocolError } from "./errors.ts";
import { type Endpoint, requestJson } from "./http.ts";
import type { TokenSource } from "./token-source.ts";

/** A fixed token (tests, and the `--token` of a demo). */
export class StaticTokenSource implements TokenSource {
  readonly #token: string;
  constructor(token: string) {
    this.#token = token;
  }
  async token(): Promise<string> {
    return this.#token;
  }
}

/**
 * A token in a file, re-read whenever the file changes (a kubelet-updated Secret volume swaps a
 * symlink: inode and mtime change) and on every `refresh()`. Surrounding whitespace is dropped.
 */
export class FileTokenSource implements TokenSource {
  readonly path: string;
  #cached: { token: string; key: string } | undefined;

  constructor(path: string) {
    this.path = path;
  }

  async token(): Promise<string> {
    const key = await this.#statKey();
    if (this.#cached?.key === key) return this.#cached.token;
    return this.#read(key);
  }

  async refresh(): Promise<void> {
    await this.#read(await this.#statKey());
  }

  async #statKey(): Promise<string> {
    try {
      const s = await stat(this.path);
      return `${s.ino}:${s.mtimeMs}:${s.size}`;
    } catch (cause) {
      throw new Error(`cannot read the token file ${this.path}; check that its Secret is mounted there`, {
        cause,
      });
    }
  }

  async #read(key: string): Promise<string> {
    let token: string;
    try {
      token = (await readFile(this.path, "utf8")).trim();
    } catch (cause) {
      throw new Error(`cannot read the token file ${this.path}; check that its Secret is mounted there`, {
        cause,
      });
    }
    if (!token) throw new Error(`the token file ${this.path} is empty; put the bearer token in its Secret`);
    this.#cached = { token, key };
    return token;
  }
}

/**
 * A credential kept in memory and renewed through `fetch` (e.g. `requestWorkspaceCredential` with
 * the agent's endpoint) when less than a third of its lifetime remains, or on `refresh()`.
 * Concurrent callers share one renewal. `onCredential` sees every new credential (to write a Secret).
 */
export class CredentialTokenSource implements TokenSource {
  readonly #fetch: () => Promise<WorkspaceCredential>;
  readonly #now: () => number;
  readonly #onCredential: ((c: WorkspaceCredential) => void | Promise<void>) | undefined;
  #current: { credential: WorkspaceCredential; refreshAt: number } | undefined;
  #inflight: Promise<WorkspaceCredential> | undefined;

  constructor(opts: {
    fetch: () => Promise<WorkspaceCredential>;
    onCredential?: (c: WorkspaceCredential) => void | Promise<void>;
    now?: () => number;
  }) {
    this.#fetch = opts.fetch;
    this.#onCredential = opts.onCredential;
    this.#now = opts.now ?? Date.now;
  }

  get credential(): WorkspaceCredential | undefined {
    return this.#current?.credential;
  }

  async token(): Promise<string> {
    const c = this.#current;
    if (c && this.#now() < c.refreshAt) return c.credential.token;
    return (await this.#renew()).token;
  }

  async refresh(): Promise<void> {
    await this.#renew();
  }

  #renew(): Promise<WorkspaceCredential> {
    this.#inflight ??= (async () => {
      try {
        const issuedAt = this.#now();
        const credential = await this.#fetch();
        this.#current = { credential, refreshAt: refreshDueAt(credential, issuedAt) };
        await this.#onCredential?.(credential);
        return credential;
      } finally {
        this.#inflight = undefined;
      }
    })();
    return this.#inflight;
  }
}

/** When to renew a credential obtained at `issuedAtMs`: once a third of its lifetime remains. */
export function refreshDueAt<C extends { expiresAt: string }>(credential: C, issuedAtMs: number): number {
  const expiresAt = Date.parse(credential.expiresAt);
  const lifetime = Math.max(0, expiresAt - issuedAtMs);
  return expiresAt - lifetime * REFRESH_AT_REMAINING_FRACTION;
}

/** The agent mints a credential for one of its workspaces (with the agent's own token). */
export async function requestWorkspaceCredential(
  agentEndpoint: Endpoint,
  agentId: string,
  workspaceId: string,
  opts: { timeoutMs?: number } = {},
): Promise<WorkspaceCredential> {
  const path = paths.workspaceCredential(agentId, workspaceId);
  const c = await requestJson(agentEndpoint, { path, schema: workspaceCredential, ...opts });
  if (!c)
    throw new Error(`the control plane answered the credential request for ${workspaceId} with no body`);
  return forWorkspace(c, workspaceId, path);
}

/** A workspace renews its own credential (with its current, still valid workspace token). */
export async function refreshWorkspaceCredential(
  workspaceEndpoint: Endpoint,
  workspaceId: string,
  opts: { timeoutMs?: number } = {},
): Promise<WorkspaceCredential> {
  const path = paths.workspaceCredentialRefresh(workspaceId);
  const c = await requestJson(workspaceEndpoint, { path, schema: workspaceCredential, ...opts });
  if (!c)
    throw new Error(`the control plane answered the credential refresh for ${workspaceId} with no body`);
  return forWorkspace(c, workspaceId, path);
}

/**
 * The agent trades its one-time install token for its first credential (the token is used up by this
 * call, whatever happens to the answer). Or renews the credential it holds (`refresh`).
 */
export async function agentCredentialRequest(
  endpoint: Omit<Endpoint, "tokens">,
  kind: "exchange" | "refresh",
  agentId: string,
  bearerToken: string,
  opts: { timeoutMs?: number } = {},
): Promise<AgentCredential> {
  const path =
    kind === "exchange" ? paths.agentCredentialExchange(agentId) : paths.agentCredentialRefresh(agentId);
  const tokens = new StaticTokenSource(bearerToken);
  const c = await requestJson({ ...endpoint, tokens }, { path, schema: agentCredential, ...opts });
  if (!c)
    throw new Error(`the control plane answered the credential ${kind} of agent ${agentId} with no body`);
  if (c.agentId === agentId) return c;
  throw new ProtocolError(
    `POST ${path}: the control plane answered with a credential for agent ${JSON.stringify(c.agentId.slice(0, 80))}, not ${JSON.stringify(agentId)}; refused`,
  );
}

/**
 * `c` if it is for the workspace asked about. One for another workspace is refused: kept, it would
 * put another workspace's token into this workspace's Secret.
 */
function forWorkspace(c: WorkspaceCredential, workspaceId: string, path: string): WorkspaceCredential {
  if (c.workspaceId === workspaceId) return c;
  throw new ProtocolError(
    `POST ${path}: the control plane answered with a credential for workspace ${JSON.stringify(c.workspaceId.slice(0, 80))}, not ${JSON.stringify(workspaceId)}; refused`,
  );
}
