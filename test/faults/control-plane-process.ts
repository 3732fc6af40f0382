// The reference control plane as a process of its own (`node test/control-plane/main.ts`), so the
// fault campaign can SIGKILL it and start it again on the same port and database, or on an empty one
// (a control plane that lost its data). Its log goes to one file for the secret scan. With `tls` it
// serves HTTPS, and its admin client trusts the CA that signed the certificate.
import { rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { rootCertificates } from "node:tls";
import { Agent, fetch as undiciFetch } from "undici";
import { ComponentProcess } from "../cluster/process.ts";
import { AdminClient } from "../control-plane/index.ts";

const MAIN = join(import.meta.dirname, "..", "control-plane", "main.ts");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ControlPlaneProcessOptions {
  port: number;
  dbPath: string;
  logPath: string;
  /** Lifetime of workspace credentials it mints; default 900 s. */
  workspaceTokenTtlSeconds?: number;
  /** Serve HTTPS with this certificate and key (PEM files); `caPem` signed it. */
  tls?: { certPath: string; keyPath: string; caPem: string };
}

export interface ControlPlaneProcess {
  readonly url: string;
  readonly admin: AdminClient;
  readonly logPath: string;
  pid(): number;
  running(): boolean;
  /** SIGKILL (or another signal) and wait for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port; `wipe` deletes its database first. */
  start(opts?: { wipe?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

export async function startControlPlaneProcess(o: ControlPlaneProcessOptions): Promise<ControlPlaneProcess> {
  const url = `${o.tls ? "https" : "http"}://127.0.0.1:${o.port}`;
  const trusting = o.tls ? new Agent({ connect: { ca: [...rootCertificates, o.tls.caPem] } }) : undefined;
  const admin = trusting
    ? new AdminClient(url, undefined, ((input: string, init?: Record<string, unknown>) =>
        undiciFetch(input, { ...init, dispatcher: trusting })) as unknown as typeof fetch)
    : new AdminClient(url);
  let proc: ComponentProcess | undefined;
  const launch = async () => {
    proc = new ComponentProcess(
      "control-plane",
      process.execPath,
      [
        MAIN,
        `--port=${o.port}`,
        "--host=127.0.0.1",
        `--db=${o.dbPath}`,
        "--keep-alive-ms=1000",
        `--workspace-token-ttl-seconds=${o.workspaceTokenTtlSeconds ?? 900}`,
        "--log-level=info",
        ...(o.tls ? [`--tls-cert=${o.tls.certPath}`, `--tls-key=${o.tls.keyPath}`] : []),
      ],
      { cwd: dirname(o.dbPath), logPath: o.logPath },
    );
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (!proc.running) throw new Error(`the control plane did not start: ${await proc.describeExit()}`);
      try {
        await admin.streams();
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`the control plane at ${url} did not answer within 30 s`);
        await sleep(100);
      }
    }
  };
  await launch();
  return {
    url,
    admin,
    logPath: o.logPath,
    pid: () => proc?.pid ?? -1,
    running: () => proc?.running ?? false,
    kill: async (signal = "SIGKILL") => {
      if (!proc?.running) return;
      process.kill(proc.pid, signal);
      await proc.exited;
    },
    start: async (opts = {}) => {
      if (proc?.running) throw new Error("the control plane still runs: kill it before starting it");
      if (opts.wipe) {
        for (const suffix of ["", "-wal", "-shm"]) await rm(`${o.dbPath}${suffix}`, { force: true });
      }
      await launch();
    },
    stop: async () => {
      await proc?.stop(5000);
      await trusting?.close();
    },
  };
}
