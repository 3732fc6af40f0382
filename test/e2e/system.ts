// The whole system on loopback, as the e2e test and the demo run it: the local Kubernetes cluster,
// the node simulator with the Flink image handler (so Flink pods are real JVMs and the project's
// images run the real agents), and the reference control plane on 127.0.0.1 (pods are host
// processes, so they reach it there). What is not built yet is named, with the command that builds it.
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { type Logger, silentLogger } from "@meridian/shared/log";
import {
  assertFlinkHome,
  findJava,
  flinkHomeDir,
  flinkImageHandler,
} from "../cluster/flink/image-handler.ts";
import { type Cluster, kubeBinDir, startCluster } from "../cluster/index.ts";
import { defaultImageMap, type NodeSimulator, startNodeSimulator } from "../cluster/node-simulator/index.ts";
import { repoRoot } from "../cluster/paths.ts";
import { type ControlPlane, startControlPlane } from "../control-plane/index.ts";

/** A piece the system needs that is not there yet, and how to get it. */
export interface MissingPiece {
  what: string;
  how: string;
}

/** Thrown when a piece is missing; the message starts with "not built yet:". */
export class NotBuiltError extends Error {
  readonly missing: MissingPiece[];
  constructor(missing: MissingPiece[]) {
    super(`not built yet: ${missing.map((m) => `${m.what} (${m.how})`).join("; ")}`);
    this.missing = missing;
  }
}

/** The pieces needed to start the cluster, simulator and Flink pods (not the agents: see agentPieces). */
export function missingInfrastructure(): MissingPiece[] {
  const missing: MissingPiece[] = [];
  try {
    kubeBinDir();
  } catch {
    missing.push({ what: "Kubernetes binaries", how: "bash test/cluster/build-kube.sh" });
  }
  try {
    assertFlinkHome(flinkHomeDir());
  } catch {
    missing.push({ what: `Flink runtime in ${flinkHomeDir()}`, how: "bash test/cluster/fetch-flink.sh" });
  }
  if (!existsSync(findJava()) && findJava() === "java") {
    missing.push({
      what: "a Java 17 runtime (java on PATH or JAVA_HOME)",
      how: "apt-get install openjdk-17-jre-headless",
    });
  }
  return missing;
}

/** The two agents' entry points the node simulator runs for the project's images. */
export function missingAgents(): MissingPiece[] {
  return [
    ["agent/src/main.ts", "the cluster agent"],
    ["workspace-agent/src/main.ts", "the workspace agent"],
  ]
    .filter(([path]) => !existsSync(join(repoRoot, path!)))
    .map(([path, what]) => ({ what: `${what} (${path})`, how: "being written; pull and retry" }));
}

export interface SystemOptions {
  /** Where the simulator keeps pod dirs and logs, and Flink keeps savepoints. */
  dir: string;
  /** SQLite file of the control plane. */
  dbPath: string;
  /** Control-plane port; 0 (default) picks a free one. */
  controlPlanePort?: number;
  /** Simulated nodes; default 1 (two agents, a workspace agent and a JM/TM fit easily). */
  nodes?: number;
  /** Keep the cluster components' logs here. */
  clusterLogDir?: string;
  logger?: Logger;
  /** Logger of the control plane (its JSON lines); default silent. */
  controlPlaneLogger?: Logger;
  /** Called as each part becomes ready, for progress displays. */
  onReady?: (part: "cluster" | "node simulator" | "control plane") => void;
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
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) {
      try {
        await stop();
      } catch (err) {
        logger.warn({ err }, "stopping part of the system failed");
      }
    }
  };
  try {
    const cluster = await startCluster({ nodes: 0, logger, logDir: opts.clusterLogDir });
    stops.push(() => cluster.stop());
    opts.onReady?.("cluster");
    const flink = flinkImageHandler({ dataDir: join(opts.dir, "flink-data") });
    const sim = await startNodeSimulator({
      cluster,
      nodes: opts.nodes ?? 1,
      imageMap: defaultImageMap([flink]),
      dir: join(opts.dir, "node-simulator"),
      logger: logger.child({ component: "node-simulator" }),
    });
    stops.push(() => sim.stop());
    opts.onReady?.("node simulator");
    const cp = await startControlPlane({
      dbPath: opts.dbPath,
      host: "127.0.0.1",
      port: opts.controlPlanePort ?? 0,
      logger: opts.controlPlaneLogger,
    });
    stops.push(() => cp.stop());
    opts.onReady?.("control plane");
    let stopping: Promise<void> | undefined;
    return {
      cluster,
      sim,
      cp,
      stop: () => {
        stopping ??= stopAll();
        return stopping;
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
