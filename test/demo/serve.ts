// The demo's background process (`node test/demo/cli.ts serve`, started detached by `up`): it owns
// the local cluster, the node simulator and the reference control plane, records in state.json
// what is ready, and stays alive until SIGTERM, when it stops all three (every pod process with
// the simulator) and removes state.json.
import { createWriteStream } from "node:fs";
import { copyFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { createLogger } from "@meridian/shared/log";
import { watchdogPid } from "../cluster/process.ts";
import { type S3Server, startS3Server } from "../cluster/s3/s3-server.ts";
import { type RealNodeSystem, startRealNodeSystem } from "../e2e/real-node-system.ts";
import { startSystem } from "../e2e/system.ts";
import {
  clusterLogDir,
  controlPlaneDbPath,
  controlPlaneLogPath,
  DEMO_BUCKET,
  type DemoState,
  kubeconfigPath,
  statePath,
  systemDir,
  writeState,
} from "./state.ts";

/** The control plane's port in the demo, so the printed URLs are the same every time (if it is free). */
export const DEMO_CONTROL_PLANE_PORT = 8480;

export async function serve(opts: { realNode?: boolean } = {}): Promise<void> {
  const logger = createLogger({ component: "demo-serve" });
  const state: DemoState = {
    pid: process.pid,
    ready: [],
    startedAt: new Date().toISOString(),
    ...(opts.realNode ? { realNode: true } : {}),
  };
  let writing = Promise.resolve();
  /** Writes are chained: two renames of the same temporary file must not race. */
  const save = () => {
    writing = writing
      .then(() => writeState(state))
      .catch((err) => logger.warn({ err }, "writing state failed"));
    return writing;
  };
  await save();
  // A fresh cluster gets a fresh control plane: nothing in an old database matches it.
  await rm(controlPlaneDbPath(), { force: true });
  await rm(systemDir(), { recursive: true, force: true });
  await rm(clusterLogDir(), { recursive: true, force: true });
  let sys: RealNodeSystem | undefined;
  let s3: S3Server | undefined;
  let stopping = false;
  const stop = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, "stopping the demo");
    try {
      await s3?.stop();
      await sys?.stop();
      await rm(statePath(), { force: true });
    } catch (err) {
      logger.error({ err }, "stopping the demo failed");
    } finally {
      logger.flush();
      process.exit(0);
    }
  };
  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(sig, () => void stop(sig));
  try {
    sys = await (opts.realNode ? startRealNodeSystem : startSystem)({
      dir: systemDir(),
      dbPath: controlPlaneDbPath(),
      controlPlanePort: DEMO_CONTROL_PLANE_PORT,
      controlPlanePortFallback: true,
      clusterLogDir: clusterLogDir(),
      logger,
      controlPlaneLogger: createLogger({
        component: "control-plane",
        destination: createWriteStream(controlPlaneLogPath(), { flags: "w" }),
      }),
      onReady: (part) => {
        state.ready.push(part);
        void save();
      },
    });
    // The workspace's Flink state goes to an S3 bucket, as on a real cluster. On the real node the
    // pods could not reach a server on loopback: its Flink state stays in the shared directory.
    if (!opts.realNode && !stopping) {
      const dir = join(systemDir(), "s3");
      s3 = await startS3Server({ dir });
      await s3.createBucket(DEMO_BUCKET);
      state.s3 = { endpoint: s3.endpoint, bucket: DEMO_BUCKET, dataDir: join(dir, "s3-data") };
      state.ready.push("s3 server");
      await save();
    }
  } catch (err) {
    logger.error({ err }, "the demo system failed to start");
    state.error = (err as Error).message;
    await save();
    logger.flush();
    process.exitCode = 1;
    return;
  }
  if (stopping) return;
  await copyFile(sys.cluster.kubeconfigPath, kubeconfigPath());
  Object.assign(state, {
    kubeconfig: kubeconfigPath(),
    server: sys.cluster.server,
    controlPlaneUrl: sys.cp.url,
    clusterDir: sys.cluster.dir,
    components: sys.cluster.components.map((c) => ({ name: c.name, pid: c.pid })),
    watchdogPid: watchdogPid(),
  });
  await save();
  logger.info({ url: sys.cp.url, server: sys.cluster.server }, "demo system serving until SIGTERM");
  setInterval(() => {}, 1 << 30);
}
