// The workspace credential as a TokenSource: read from the Secret the agent maintains
// (`meridian-workspace-credential`: token, expiresAt, workspaceId) through the Kubernetes API,
// kept fresh by a watch on that one Secret by name (RBAC: get + watch, resourceNames), so a
// refreshed credential is used without a restart. `refresh()` (after a 401) re-reads it at once, and
// when the Secret still holds the refused credential asks the agent for a new one through the
// ConfigMap meridian-credential-request (shared/src/contract/credential-request.ts), once per credential.
// The watch resumes after a clean end, re-reads at once after 410 Gone, and backs off (the shared
// back-off) after any other failure, an ERROR event included.

import { Backoff, type BackoffOptions, sleep } from "@meridian/shared/backoff";
import { buildCredentialRequest } from "@meridian/shared/contract/credential-request";
import { ANNOTATION_WORKSPACE_DELETING } from "@meridian/shared/contract/workspace-deletion";
import type { TokenSource } from "@meridian/shared/controlplane/token-source";
import { applyObject } from "@meridian/shared/kube/apply";
import type { KubeClient } from "@meridian/shared/kube/client";
import { isGone, isNotFound, KubeApiError } from "@meridian/shared/kube/errors";
import { FIELD_MANAGER_WORKSPACE_AGENT } from "@meridian/shared/kube/labels";
import { CONFIG_MAPS, resourcePath, SECRETS } from "@meridian/shared/kube/resources";
import { randomWatchTimeoutSeconds, watchEvents } from "@meridian/shared/kube/watch";
import { F, type Logger } from "@meridian/shared/log";

export interface SecretCredential {
  token: string;
  expiresAt: string | undefined;
  workspaceId: string | undefined;
  resourceVersion: string | undefined;
}

interface SecretObject {
  metadata?: { resourceVersion?: string; name?: string; annotations?: Record<string, string> };
  data?: Record<string, string>;
  [key: string]: unknown;
}

/** Decodes the Secret's `data`; undefined when it has no token yet. */
export function credentialFromSecret(secret: SecretObject): SecretCredential | undefined {
  const d = secret.data ?? {};
  const dec = (k: string) => (d[k] ? Buffer.from(d[k], "base64").toString("utf8").trim() : undefined);
  const token = dec("token");
  if (!token) return undefined;
  return {
    token,
    expiresAt: dec("expiresAt"),
    workspaceId: dec("workspaceId"),
    resourceVersion: secret.metadata?.resourceVersion,
  };
}

export interface SecretTokenSourceOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  /** The workspace this agent serves; a Secret for another workspace is refused. */
  workspaceId: string;
  logger: Logger;
  /** Retry rhythm of the watch after a failure. Default 500 ms doubling to 30 s, full jitter. */
  backoff?: BackoffOptions;
  /** Called after a new credential was read (not with the token: with its expiry). */
  onChange?: (c: { expiresAt: string | undefined; resourceVersion: string | undefined }) => void;
  /** The agent marked the Secret: the workspace is being deleted since `since` (called once). */
  onWorkspaceDeleting?: (since: string) => void;
}

export class SecretTokenSource implements TokenSource {
  readonly #o: SecretTokenSourceOptions;
  readonly #ctl = new AbortController();
  #current: SecretCredential | undefined;
  #deletingSince: string | undefined;
  #loop: Promise<void> | undefined;
  /** The `expiresAt` of the refused credential the agent was last asked to replace. */
  #requested: string | undefined;

  constructor(opts: SecretTokenSourceOptions) {
    this.#o = opts;
  }

  /** Expiry of the credential in use (for status, metrics and readiness); never the token. */
  get expiresAt(): string | undefined {
    return this.#current?.expiresAt;
  }

  get ready(): boolean {
    return this.#current !== undefined;
  }

  /** Starts watching the Secret; resolves after the first read attempt. */
  async start(): Promise<void> {
    if (this.#loop) return;
    await this.#read().catch((err) => this.#o.logger.warn({ err }, "workspace credential not readable yet"));
    this.#loop = this.#watchLoop();
  }

  async stop(): Promise<void> {
    this.#ctl.abort();
    await this.#loop;
  }

  async token(): Promise<string> {
    if (this.#current) return this.#current.token;
    await this.#read();
    if (!this.#current)
      throw new Error(
        `the Secret ${this.#o.namespace}/${this.#o.name} has no token yet; the agent writes it after minting a workspace credential`,
      );
    return (this.#current as SecretCredential).token;
  }

  /**
   * After a 401: re-reads the Secret; if it still holds the refused credential (`refused`, the token
   * the 401 answered; the one in use when not given), asks the agent for a new one.
   */
  async refresh(refused?: string): Promise<void> {
    const before = this.#current;
    await this.#read();
    const current = this.#current;
    if (current && current.token === (refused ?? before?.token)) await this.#requestNew(current);
  }

  async #requestNew(refused: SecretCredential): Promise<void> {
    const refusedExpiresAt = refused.expiresAt ?? "";
    if (this.#requested === refusedExpiresAt || !Number.isFinite(Date.parse(refusedExpiresAt))) return;
    const request = { refusedExpiresAt, refusedAt: new Date().toISOString() };
    try {
      await applyObject(
        this.#o.client,
        CONFIG_MAPS,
        buildCredentialRequest(this.#o.namespace, this.#o.workspaceId, request),
        // The client's own request timeout bounds it.
        { fieldManager: FIELD_MANAGER_WORKSPACE_AGENT, force: true, signal: this.#ctl.signal },
      );
      this.#requested = refusedExpiresAt;
      this.#o.logger.warn(
        { expiresAt: refusedExpiresAt },
        "the control plane refused the workspace credential; asked the agent for a new one (ConfigMap meridian-credential-request)",
      );
    } catch (err) {
      this.#o.logger.warn(
        { err },
        "cannot ask the agent for a new workspace credential (ConfigMap meridian-credential-request); the agent replaces it when it is due",
      );
    }
  }

  async #read(): Promise<string | undefined> {
    let secret: SecretObject | undefined;
    try {
      secret = await this.#o.client.getOrUndefined<SecretObject>(
        resourcePath(SECRETS, this.#o.namespace, this.#o.name),
        this.#ctl.signal,
      );
    } catch (cause) {
      throw new Error(
        `cannot read the credential Secret ${this.#o.namespace}/${this.#o.name}; check the workspace agent's Role allows get on it`,
        { cause },
      );
    }
    if (!secret) {
      this.#o.logger.warn({ [F.name]: this.#o.name }, "credential Secret does not exist (yet)");
      return undefined;
    }
    this.#accept(secret);
    return secret.metadata?.resourceVersion;
  }

  #accept(secret: SecretObject): void {
    const deleting = secret.metadata?.annotations?.[ANNOTATION_WORKSPACE_DELETING];
    if (deleting && this.#deletingSince === undefined) {
      this.#deletingSince = deleting;
      this.#o.logger.warn(
        { since: deleting },
        "the workspace is being deleted; deleting every Flink deployment",
      );
      this.#o.onWorkspaceDeleting?.(deleting);
    }
    const c = credentialFromSecret(secret);
    if (!c) return;
    if (c.workspaceId && c.workspaceId !== this.#o.workspaceId) {
      this.#o.logger.error(
        { [F.name]: this.#o.name, [F.workspace]: this.#o.workspaceId },
        `credential Secret is for workspace ${c.workspaceId}, not ${this.#o.workspaceId}; ignoring it`,
      );
      return;
    }
    const changed = c.token !== this.#current?.token;
    this.#current = c;
    if (changed) {
      this.#o.logger.info({ [F.name]: this.#o.name, expiresAt: c.expiresAt }, "workspace credential loaded");
      this.#o.onChange?.({ expiresAt: c.expiresAt, resourceVersion: c.resourceVersion });
    }
  }

  async #watchLoop(): Promise<void> {
    const signal = this.#ctl.signal;
    const backoff = new Backoff(this.#o.backoff);
    const path = resourcePath(SECRETS, this.#o.namespace);
    let rv: string | undefined = this.#current?.resourceVersion;
    while (!signal.aborted) {
      try {
        rv ??= await this.#read();
        const events = watchEvents<SecretObject>(this.#o.client, {
          path,
          resourceVersion: rv ?? "0",
          fieldSelector: `metadata.name=${this.#o.name}`,
          timeoutSeconds: randomWatchTimeoutSeconds(),
          idleTimeoutMs: 420_000,
          signal,
        });
        for await (const ev of events) {
          // An ERROR event ends the watch like a failed request: 410 re-reads, anything else backs off.
          if (ev.type === "ERROR") throw new KubeApiError("WATCH", path, ev.object.code ?? 500, ev.object);
          backoff.succeeded();
          rv = ev.object.metadata?.resourceVersion ?? rv;
          if (ev.type === "ADDED" || ev.type === "MODIFIED") this.#accept(ev.object as SecretObject);
        }
        backoff.succeeded();
      } catch (err) {
        if (signal.aborted) break;
        if (isGone(err) || isNotFound(err)) rv = undefined;
        if (isGone(err)) continue;
        const delayMs = backoff.next();
        this.#o.logger.warn(
          { err, [F.attempt]: backoff.attempt, [F.delayMs]: delayMs },
          "credential watch failed; retrying",
        );
        await sleep(delayMs, signal);
      }
    }
  }
}
