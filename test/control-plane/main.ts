// `npm run control-plane`: the reference control plane as a standalone process, for the local demo
// and for poking at the protocol by hand (see docs/control-plane.md).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createLogger, type LogLevel } from "@meridian/shared/log";
import { Command, InvalidArgumentError } from "commander";
import { cacheDir } from "../cluster/paths.ts";
import { startControlPlane } from "./server.ts";

function intAtLeast(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`must be an integer >= ${min}`);
    return n;
  };
}

const program = new Command()
  .name("control-plane")
  .description("Meridian reference control plane: protocol v1 over SSE, an admin API, fault injection")
  .option("--port <port>", "TCP port (0 picks a free one)", intAtLeast(0), 8480)
  .option("--host <host>", "listen address", "127.0.0.1")
  .option(
    "--db <path>",
    "SQLite file holding all state",
    join(cacheDir(), "control-plane", "control-plane.db"),
  )
  .option("--tls-cert <file>", "PEM certificate (chain); with --tls-key serves HTTPS")
  .option("--tls-key <file>", "PEM private key of --tls-cert")
  .option("--keep-alive-ms <ms>", "keep-alive comment interval on streams", intAtLeast(1), 5000)
  .option("--workspace-token-ttl-seconds <s>", "lifetime of workspace credentials", intAtLeast(1), 900)
  .option("--change-log-limit <n>", "changes kept for Last-Event-ID resume", intAtLeast(1), 10_000)
  .option(
    "--admin-token <token>",
    "require this bearer token on /admin (default: $MERIDIAN_ADMIN_TOKEN, else none)",
  )
  .option(
    "--signing-key-file <file>",
    "Ed25519 private key (PKCS#8 PEM) every stream event is signed with (default: the fixed test key)",
  )
  .option("--log-level <level>", "trace, debug, info, warn, error", "info");

program.parse();
const opts = program.opts<{
  port: number;
  host: string;
  db: string;
  tlsCert?: string;
  tlsKey?: string;
  keepAliveMs: number;
  workspaceTokenTtlSeconds: number;
  changeLogLimit: number;
  adminToken?: string;
  signingKeyFile?: string;
  logLevel: LogLevel;
}>();

const logger = createLogger({ component: "control-plane", level: opts.logLevel });
if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) {
  program.error("--tls-cert and --tls-key go together: give both for HTTPS, or neither for plain HTTP");
}
const loopback = ["127.0.0.1", "::1", "localhost"].includes(opts.host);
if (!opts.tlsCert && !loopback) {
  logger.warn(
    { host: opts.host },
    "serving plain HTTP on a non-loopback address: tokens cross the network in clear",
  );
}
const adminToken = opts.adminToken ?? process.env.MERIDIAN_ADMIN_TOKEN;
if (adminToken === undefined && !loopback) {
  logger.warn("the admin API is open to anyone who reaches this address: set --admin-token");
}

const cp = await startControlPlane({
  port: opts.port,
  host: opts.host,
  dbPath: opts.db,
  keepAliveMs: opts.keepAliveMs,
  workspaceTokenTtlSeconds: opts.workspaceTokenTtlSeconds,
  changeLogLimit: opts.changeLogLimit,
  adminToken,
  logger,
  ...(opts.signingKeyFile ? { signingKey: readFileSync(opts.signingKeyFile, "utf8") } : {}),
  tls:
    opts.tlsCert && opts.tlsKey
      ? { cert: readFileSync(opts.tlsCert), key: readFileSync(opts.tlsKey) }
      : undefined,
});
logger.info(
  { url: cp.url, db: opts.db, signingPublicKey: cp.signingPublicKey },
  "control plane ready (pin signingPublicKey in the agents: --signing-public-keys)",
);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "stopping");
    cp.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, "stop failed");
        process.exit(1);
      },
    );
  });
}
