// The reference control plane as a library: `startControlPlane` serves protocol v1 and the admin API
// on one port, keeps everything in one SQLite file, and can be stopped and restarted on that file.

import type { KeyObject } from "node:crypto";
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { F, type Logger, silentLogger } from "@meridian/shared/log";
import { handleAdmin } from "./admin-api.ts";
import { AdminClient } from "./admin-client.ts";
import type { ServerContext } from "./context.ts";
import { RequestFaults } from "./faults.ts";
import { ApiError, codeForStatus, sendError, sendJson } from "./http-io.ts";
import { handleProtocol } from "./protocol-api.ts";
import { Signer } from "./signing.ts";
import { SseHub } from "./sse-hub.ts";
import { Store } from "./store.ts";

export interface ControlPlaneOptions {
  /** TCP port; 0 or absent picks a free one (kept across `restart()`). */
  port?: number;
  /** Listen address; default 127.0.0.1. */
  host?: string;
  /** SQLite file holding all state; created if missing. */
  dbPath: string;
  /** Interval of `: keep-alive` comments on every stream; default 5000. */
  keepAliveMs?: number;
  /** Lifetime of workspace credentials; default 900. */
  workspaceTokenTtlSeconds?: number;
  /** When set, /admin requests need `Authorization: Bearer <adminToken>`. */
  adminToken?: string;
  /** Default: silent. */
  logger?: Logger;
  /** PEM certificate chain and key: serve HTTPS instead of plain HTTP. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** How many changes the log keeps for Last-Event-ID resume; default 10000. */
  changeLogLimit?: number;
  /**
   * Ed25519 private key (PKCS#8 PEM or KeyObject) every stream event is signed with; default the
   * fixed test key (signing.ts, TEST_SIGNING_PUBLIC_KEY); null: events go out unsigned.
   */
  signingKey?: KeyObject | string | null;
}

export interface ControlPlane {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly port: number;
  /** Typed client of the admin API of this server. */
  readonly admin: AdminClient;
  /** Destroys every stream and connection, stops listening, closes the database. Idempotent. */
  stop(): Promise<void>;
  /** `stop()` then listen again on the same port and database; all desired state and the sequence survive. */
  restart(): Promise<void>;
  /** Signs every event written from now on with this key (a key rotation); null: unsigned. */
  useSigningKey(key: KeyObject | string | null): void;
  /** The public key events are signed with now (base64 of its raw bytes); undefined: unsigned. */
  readonly signingPublicKey: string | undefined;
}

interface Running {
  server: Server;
  ctx: ServerContext;
}

async function listen(opts: ControlPlaneOptions, port: number, signer: Signer): Promise<Running> {
  const log = opts.logger ?? silentLogger();
  const ttl = opts.workspaceTokenTtlSeconds ?? 900;
  const keepAliveMs = opts.keepAliveMs ?? 5000;
  if (!(ttl > 0)) throw new Error(`workspaceTokenTtlSeconds must be positive, got ${ttl}`);
  if (!(keepAliveMs > 0)) throw new Error(`keepAliveMs must be positive, got ${keepAliveMs}`);
  const store = new Store({ path: opts.dbPath, changeLogLimit: opts.changeLogLimit ?? 10_000 });
  const ctx: ServerContext = {
    store,
    hub: new SseHub(keepAliveMs, log, signer),
    log,
    requestFaults: new RequestFaults(),
    workspaceTokenTtlSeconds: ttl,
    adminToken: opts.adminToken,
  };
  const handler = (req: IncomingMessage, res: ServerResponse) => void serve(ctx, req, res);
  const server = opts.tls
    ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, handler)
    : createHttpServer(handler);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ port, host: opts.host ?? "127.0.0.1" }, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (err) {
    store.close();
    throw new Error(
      `control plane cannot listen on ${opts.host ?? "127.0.0.1"}:${port}: pick another --port`,
      {
        cause: err,
      },
    );
  }
  return { server, ctx };
}

async function serve(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = Date.now();
  const path = new URL(req.url ?? "/", "http://control-plane").pathname;
  try {
    if (path === "/healthz" && req.method === "GET") {
      sendJson(res, 200, { ok: true });
    } else if (path === "/admin" || path.startsWith("/admin/")) {
      await handleAdmin(ctx, req, res, path);
    } else {
      const failWith = ctx.requestFaults.take();
      if (failWith !== undefined) {
        throw new ApiError(
          failWith,
          codeForStatus(failWith),
          `fault injected: this request fails with ${failWith}`,
        );
      }
      await handleProtocol(ctx, req, res, path);
    }
  } catch (err) {
    if (err instanceof ApiError) {
      sendError(res, err);
    } else {
      ctx.log.error({ [F.err]: err, [F.url]: path }, "request failed");
      sendError(res, new ApiError(500, "unavailable", `internal error: ${(err as Error).message}`));
    }
  }
  ctx.log.debug(
    { method: req.method, [F.url]: path, [F.status]: res.statusCode, [F.durationMs]: Date.now() - started },
    "request",
  );
}

async function close(running: Running): Promise<void> {
  running.ctx.hub.closeAll();
  const closed = new Promise<void>((resolve) => running.server.close(() => resolve()));
  running.server.closeAllConnections();
  await closed;
  running.ctx.store.close();
}

class ControlPlaneServer implements ControlPlane {
  readonly url: string;
  readonly port: number;
  readonly admin: AdminClient;
  readonly #opts: ControlPlaneOptions;
  readonly #signer: Signer;
  #running: Running | undefined;

  constructor(opts: ControlPlaneOptions, running: Running, signer: Signer) {
    this.#opts = opts;
    this.#signer = signer;
    this.#running = running;
    this.port = (running.server.address() as AddressInfo).port;
    this.url = `${opts.tls ? "https" : "http"}://${urlHost(opts.host ?? "127.0.0.1")}:${this.port}`;
    this.admin = new AdminClient(this.url, opts.adminToken);
    running.ctx.log.info({ [F.url]: this.url }, "control plane listening");
  }

  useSigningKey(key: KeyObject | string | null): void {
    this.#signer.use(key);
  }

  get signingPublicKey(): string | undefined {
    return this.#signer.publicKey;
  }

  async stop(): Promise<void> {
    const running = this.#running;
    this.#running = undefined;
    if (running) await close(running);
  }

  async restart(): Promise<void> {
    await this.stop();
    this.#running = await listen(this.#opts, this.port, this.#signer);
    this.#running.ctx.log.info({ [F.url]: this.url }, "control plane listening again");
  }
}

function urlHost(host: string): string {
  if (host === "0.0.0.0" || host === "::" || host === "") return "127.0.0.1";
  return host.includes(":") ? `[${host}]` : host;
}

/** Starts the reference control plane; resolves once it listens. */
export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const signer = new Signer(opts.signingKey);
  return new ControlPlaneServer(opts, await listen(opts, opts.port ?? 0, signer), signer);
}
