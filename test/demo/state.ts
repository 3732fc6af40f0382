// Where the demo keeps its state: $MERIDIAN_CACHE/demo/ (default .cache/demo/). The detached serve
// process writes state.json as its parts come up; `up`, `status` and `down` read it.
import { readFileSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { cacheDir } from "../cluster/paths.ts";

export type Part = "cluster" | "node simulator" | "real node" | "control plane" | "s3 server";

export interface DemoState {
  /** The serve process that owns cluster, node simulator and control plane. */
  pid: number;
  /** Parts ready so far, in order. */
  ready: Part[];
  /** Set once every part is ready. */
  kubeconfig?: string;
  server?: string;
  controlPlaneUrl?: string;
  /** The cluster's temporary directory and component processes (for `down` to check). */
  clusterDir?: string;
  components?: { name: string; pid: number }[];
  watchdogPid?: number;
  /** The demo runs on a real node (`--real-node`); `down` sweeps what a killed serve left of it. */
  realNode?: boolean;
  /**
   * The S3 server (S3Proxy on loopback) the demo workspace keeps its Flink state in, with the bucket
   * and the directory its file-system backend writes objects to. Absent on the real node.
   */
  s3?: { endpoint: string; bucket: string; dataDir: string };
  /** Set by `serve` when it failed to start; `up` prints it. */
  error?: string;
  startedAt: string;
}

export const demoDir = (): string => join(cacheDir(), "demo");
/** The bucket of the demo workspace's Flink state. */
export const DEMO_BUCKET = "meridian-demo";
export const statePath = (): string => join(demoDir(), "state.json");
export const kubeconfigPath = (): string => join(demoDir(), "kubeconfig");
export const serveLogPath = (): string => join(demoDir(), "serve.log");
export const controlPlaneLogPath = (): string => join(demoDir(), "control-plane.log");
export const controlPlaneDbPath = (): string => join(demoDir(), "control-plane.db");
export const clusterLogDir = (): string => join(demoDir(), "cluster-logs");
/** Pod dirs and logs of the node simulator, Flink data: every pod process runs with its cwd in here. */
export const systemDir = (): string => join(demoDir(), "system");

export function readState(): DemoState | undefined {
  try {
    return JSON.parse(readFileSync(statePath(), "utf8")) as DemoState;
  } catch {
    return undefined;
  }
}

export async function writeState(state: DemoState): Promise<void> {
  const tmp = `${statePath()}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`);
  await rename(tmp, statePath());
}
