// The agent's control-plane credential as a TokenSource (docs/protocol.md#authentication). The token
// the customer installed is a one-time install token, valid for minutes: on first connect the agent
// trades it for a short-lived credential (exchange), keeps that in its credential Secret, and renews it
// with itself when a third of its lifetime remains (refresh), so a leaked install token is useless once
// used and a revoked agent is cut off within one credential lifetime. A long-lived agent token (protocol
// v1 before the exchange) still works for one release: the control plane answers its exchange with 403
// (or 404 when it has no exchange), and the agent then sends it as it is, with one deprecation warning.
// Without a credential Secret (tests, a demo's `--token`) the token is used as it is.
import { longBackoffMs } from "@meridian/shared/backoff";
import { agentCredentialRequest, refreshDueAt } from "@meridian/shared/controlplane/credentials";
import { ProtocolError } from "@meridian/shared/controlplane/errors";
import type { Endpoint } from "@meridian/shared/controlplane/http";
import type { TokenSource } from "@meridian/shared/controlplane/token-source";
import { F, type Logger } from "@meridian/shared/log";
import type { AgentCredential } from "@meridian/shared/protocol/index";
import type { CredentialStore, StoredAgentCredential } from "./credential-secret.ts";

/** After a failed renewal of a credential that is still valid: try again this much later. */
const RENEW_RETRY_MS = 15_000;
/** After the install token was refused and nothing valid is left: ask again this much later. */
const REFUSED_RETRY_MS = 60_000;

export interface AgentCredentialOptions {
  endpoint: Omit<Endpoint, "tokens">;
  agentId: string;
  /** The token the customer installed (its file, re-read when the Secret changes). */
  installed: TokenSource & { readonly path?: string };
  /** Where the credential is kept; undefined: use the installed token as it is. */
  store: CredentialStore | undefined;
  logger: Logger;
  now?: () => number;
}

export class AgentCredentialSource implements TokenSource {
  readonly #o: AgentCredentialOptions;
  readonly #now: () => number;
  #longLived = false;
  #current: { credential: StoredAgentCredential; refreshAt: number } | undefined;
  #inflight: Promise<string> | undefined;
  /** Set while the install token stands refused and no credential is left: the error, and until when. */
  #refused: { error: Error; until: number } | undefined;

  constructor(opts: AgentCredentialOptions) {
    this.#o = opts;
    this.#now = opts.now ?? Date.now;
  }

  /** Expiry of the credential in use (for status and tests); never the token. */
  get expiresAt(): string | undefined {
    return this.#current?.credential.expiresAt;
  }

  /** True once the control plane said the installed token is a long-lived one (deprecated). */
  get longLived(): boolean {
    return this.#longLived;
  }

  async token(): Promise<string> {
    if (!this.#o.store || this.#longLived) return this.#o.installed.token();
    const c = this.#current;
    if (c && this.#now() < c.refreshAt) return c.credential.token;
    return this.#renew(false);
  }

  /** After a 401: the credential in use was refused (revoked or expired); get another if there is one. */
  async refresh(): Promise<void> {
    if (!this.#o.store || this.#longLived) {
      await this.#o.installed.refresh?.();
      return;
    }
    await this.#renew(true);
  }

  #renew(refused: boolean): Promise<string> {
    this.#inflight ??= this.#renewOnce(refused).finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  async #renewOnce(refused: boolean): Promise<string> {
    const store = this.#o.store!;
    const now = this.#now();
    if (this.#refused && now < this.#refused.until) throw this.#refused.error;
    // Another replica may have stored a newer credential while this one was not leading.
    const stored = await store.load().catch((err: unknown) => {
      this.#o.logger.warn({ [F.err]: err }, `cannot read the agent's credential Secret ${store.where}`);
      return undefined;
    });
    if (stored && Date.parse(stored.expiresAt) > Date.parse(this.#current?.credential.expiresAt ?? "0"))
      this.#current = { credential: stored, refreshAt: refreshDueAt(stored, Date.parse(stored.issuedAt)) };
    const c = this.#current;
    if (c && !refused && now < c.refreshAt) return c.credential.token;
    if (c && !refused && now < Date.parse(c.credential.expiresAt)) {
      try {
        return await this.#take("refresh", c.credential.token);
      } catch (err) {
        if (!isStatus(err, 401)) {
          // The control plane is unreachable or failing: the credential still works; try again soon.
          c.refreshAt = Math.min(now + RENEW_RETRY_MS, Date.parse(c.credential.expiresAt));
          this.#o.logger.warn(
            { [F.err]: err, expiresAt: c.credential.expiresAt },
            "cannot renew the agent's control-plane credential yet; the current one stays in use until it expires",
          );
          return c.credential.token;
        }
      }
    }
    return this.#exchange();
  }

  /** Trades the installed token; 403/404 mean it is a long-lived token (or no exchange exists). */
  async #exchange(): Promise<string> {
    const installed = await this.#o.installed.token();
    try {
      return await this.#take("exchange", installed);
    } catch (err) {
      if (isStatus(err, 403) || isStatus(err, 404)) {
        this.#longLived = true;
        this.#current = undefined;
        this.#o.logger.warn(
          { [F.err]: err },
          "the agent's token is a long-lived token (deprecated; the control plane does not exchange it): it is used as it is for now. " +
            "Ask the vendor for a one-time install token and put it into the agent's token Secret; docs/install.md",
        );
        return installed;
      }
      if (!isStatus(err, 401)) throw err;
      const error = new Error(
        `the control plane refused the agent's install token (already used, expired or revoked) and the agent holds no valid credential` +
          ` in ${this.#o.store!.where}: ask the vendor for a new install token, put it into the agent's token Secret` +
          `${this.#o.installed.path ? ` (mounted at ${this.#o.installed.path})` : ""} and restart the agent; docs/install.md`,
        { cause: err },
      );
      this.#refused = { error, until: this.#now() + longBackoffMs(REFUSED_RETRY_MS) };
      this.#current = undefined;
      // Logged here (once a try, about a minute apart): the stream and the reporter only say that no
      // credential could be had.
      this.#o.logger.error({ [F.err]: err }, error.message);
      throw error;
    }
  }

  async #take(kind: "exchange" | "refresh", bearer: string): Promise<string> {
    const issuedAt = this.#now();
    const answer: AgentCredential = await agentCredentialRequest(
      this.#o.endpoint,
      kind,
      this.#o.agentId,
      bearer,
    );
    const credential = {
      token: answer.token,
      expiresAt: answer.expiresAt,
      issuedAt: new Date(issuedAt).toISOString(),
    };
    this.#current = { credential, refreshAt: refreshDueAt(credential, issuedAt) };
    this.#refused = undefined;
    const store = this.#o.store!;
    try {
      await store.save(credential);
    } catch (err) {
      // Kept in memory, it still serves this process; after a restart the agent would need a new
      // install token (exchange) or fall back to an older stored credential while it lasts (refresh).
      this.#o.logger.error(
        { [F.err]: err },
        `cannot store the agent's control-plane credential in Secret ${store.where}; check the agent's RBAC for it (docs/rbac.md)`,
      );
    }
    this.#o.logger.info(
      { expiresAt: credential.expiresAt, refreshAt: new Date(this.#current.refreshAt).toISOString() },
      kind === "exchange"
        ? "the install token was exchanged for a short-lived control-plane credential"
        : "the agent's control-plane credential was renewed",
    );
    return credential.token;
  }
}

function isStatus(err: unknown, status: number): boolean {
  return err instanceof ProtocolError && err.status === status;
}
