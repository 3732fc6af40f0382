// The whole system on loopback, as the e2e test and the demo run it: the local Kubernetes cluster,
// the node simulator with the Flink image handler (so Flink pods are real JVMs and the project's
// images run the real agents), and the reference control plane on 127.0.0.1 (pods are host
// processes, so they reach it there).
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { type Logger, silentLogger } from "@meridian/shared/log";
import { flinkImageHandler } from "../cluster/flink/image-handler.ts";
import { type Cluster, startCluster } from "../cluster/index.ts";
import { defaultImageMap, type NodeSimulator, startNodeSimulator } from "../cluster/node-simulator/index.ts";
import { type ControlPlane, startControlPlane } from "../control-plane/index.ts";
import { missingInfrastructure, NotBuiltError } from "./prerequisites.ts";
import { stops } from "./stops.ts";

export { missingAgents, missingInfrastructure, NotBuiltError } from "./prerequisites.ts";

export interface SystemOptions {
  /** Where the simulator keeps pod dirs and logs, and Flink keeps savepoints. */
  dir: string;
  /** SQLite file of the control plane. */
  dbPath: string;
  /** Control-plane port; 0 (default) picks a free one. */
  controlPlanePort?: number;
  /** When controlPlanePort is taken, use a free port instead of failing. */
  controlPlanePortFallback?: boolean;
  /** Simulated nodes; default 1 (two agents, a workspace agent and a JM/TM fit easily). */
  nodes?: number;
  /** Keep the cluster components' logs here. */
  clusterLogDir?: string;
  logger?: Logger;
  /** Logger of the control plane (its JSON lines); default silent. */
  controlPlaneLogger?: Logger;
  /** Serve the control plane over HTTPS with this certificate (for 127.0.0.1) and key. */
  controlPlaneTls?: { cert: string; key: string };
  /** Lifetime of the workspace credentials the control plane issues; default its own (900 s). */
  workspaceTokenTtlSeconds?: number;
  /** Called as each part becomes ready, for progress displays. */
  onReady?: (part: "cluster" | "node simulator" | "real node" | "control plane") => void;
}

export interface System {
  cluster: Cluster;
  sim: NodeSimulator;
  cp: ControlPlane;
  /** Stops the control plane, the simulator (every pod process) and the cluster, in that order. */
  stop(): Promise<void>;
}

/** Starts cluster, node simulator (+ Flink handler) and control plane; stops what started on failure. */
export async function startSystem(opts: SystemOptions): Promise<System> {
  const missing = missingInfrastructure();
  if (missing.length > 0) throw new NotBuiltError(missing);
  const logger = opts.logger ?? silentLogger();
  await mkdir(opts.dir, { recursive: true });
  const started = stops(logger);
  try {
    const cluster = await startCluster({ nodes: 0, logger, logDir: opts.clusterLogDir });
    started.push(() => cluster.stop());
    opts.onReady?.("cluster");
    const flink = flinkImageHandler({ dataDir: join(opts.dir, "flink-data") });
    const sim = await startNodeSimulator({
      cluster,
      nodes: opts.nodes ?? 1,
      imageMap: defaultImageMap([flink]),
      dir: join(opts.dir, "node-simulator"),
      logger: logger.child({ module: "node-simulator" }),
    });
    started.push(() => sim.stop());
    opts.onReady?.("node simulator");
    const cpOpts = {
      dbPath: opts.dbPath,
      host: "127.0.0.1",
      logger: opts.controlPlaneLogger,
      tls: opts.controlPlaneTls,
      workspaceTokenTtlSeconds: opts.workspaceTokenTtlSeconds,
    };
    const cp = await startControlPlane({ ...cpOpts, port: opts.controlPlanePort ?? 0 }).catch(
      (err: Error) => {
        if (!opts.controlPlanePortFallback || !opts.controlPlanePort) throw err;
        logger.warn({ err, port: opts.controlPlanePort }, "control plane port taken; using a free port");
        return startControlPlane({ ...cpOpts, port: 0 });
      },
    );
    started.push(() => cp.stop());
    opts.onReady?.("control plane");
    return {
      cluster,
      sim,
      cp,
      stop: started.stopAll,
    };
  } catch (err) {
    await started.stopAll();
    throw err;
  }
}
