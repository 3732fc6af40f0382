// The state file of the background cluster run by `npm run cluster -- up`
// ($MERIDIAN_CACHE/cluster/state.json), shared by the CLI and by clusterFromKubeconfig().
import { readFileSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { cliStateDir } from "./paths.ts";

export interface ClusterState {
  /** The `serve` process that owns the cluster. */
  pid: number;
  /** The stable admin kubeconfig path. */
  kubeconfig: string;
  server: string;
  /** The cluster's temporary directory (holds pki/ca.key, so tests can sign certificates). */
  dir: string;
  logDir: string;
  components: { name: string; pid: number }[];
  /** The serve process's watchdog (test/cluster/watchdog.ts), which exits right after it. */
  watchdogPid?: number;
  nodes: number;
  /** A real node runs (test/cluster/real-node); `down` sweeps its leftovers. */
  realNode?: boolean;
  startedAt: string;
}

export const statePath = (): string => join(cliStateDir(), "state.json");
export const stableKubeconfigPath = (): string => join(cliStateDir(), "kubeconfig");
export const serveLogPath = (): string => join(cliStateDir(), "serve.log");

export function readState(): ClusterState | undefined {
  try {
    return JSON.parse(readFileSync(statePath(), "utf8")) as ClusterState;
  } catch {
    return undefined;
  }
}

export async function writeState(state: ClusterState): Promise<void> {
  const tmp = `${statePath()}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`);
  await rename(tmp, statePath());
}
