// What the Flink integration test and benchmark share: a local cluster whose node simulator runs
// flink:* images as JVMs, the example manifests (examples/topspeed.yaml) created through the real
// API server, pod lookups, JobManager log tails and process memory readings.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { KubernetesObject, V1Pod } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { type Cluster, startCluster } from "../index.ts";
import { defaultImageMap, type NodeSimulator, startNodeSimulator } from "../node-simulator/index.ts";
import { FlinkRest, pollUntil } from "./flink-rest.ts";
import { assertFlinkHome, flinkHomeDir, flinkImageHandler } from "./image-handler.ts";

export const EXAMPLE_MANIFESTS = join(import.meta.dirname, "examples", "topspeed.yaml");
/** The example's job class: TopSpeedWindowing (keyed window state on generated data, runs until stopped). */
export const EXAMPLE_JOB_CLASS = "org.apache.flink.streaming.examples.windowing.TopSpeedWindowing";

export interface FlinkTestCluster {
  cluster: Cluster;
  sim: NodeSimulator;
  /** Where container paths no volume covers (savepoints, checkpoints) live. */
  dataDir: string;
  stop(): Promise<void>;
}

/** startCluster() plus a node simulator whose image map runs Flink images. */
export async function startFlinkTestCluster(nodes = 1): Promise<FlinkTestCluster> {
  assertFlinkHome(flinkHomeDir());
  const cluster = await startCluster();
  try {
    const dataDir = join(cluster.dir, "flink-data");
    const sim = await startNodeSimulator({
      kubeconfigPath: cluster.kubeconfigPath,
      cluster,
      nodes,
      imageMap: defaultImageMap([flinkImageHandler({ dataDir })]),
      dir: join(cluster.dir, "sim"),
    });
    return {
      cluster,
      sim,
      dataDir,
      stop: async () => {
        await sim.stop();
        await cluster.stop();
      },
    };
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

/** The example's objects (ConfigMap, Service, JobManager pod, TaskManager pods), in `namespace`. */
export function exampleObjects(namespace: string): KubernetesObject[] {
  return parseAllDocuments(readFileSync(EXAMPLE_MANIFESTS, "utf8")).map((d) => {
    const o = d.toJS() as KubernetesObject;
    o.metadata = { ...o.metadata, namespace };
    return o;
  });
}

const PLURAL: Record<string, string> = { ConfigMap: "configmaps", Service: "services", Pod: "pods" };

function apiPath(o: KubernetesObject, name?: string): string {
  const plural = PLURAL[o.kind ?? ""];
  if (!plural) throw new Error(`exampleObjects: no API path for kind ${o.kind}`);
  const base = `/api/v1/namespaces/${o.metadata?.namespace}/${plural}`;
  return name ? `${base}/${name}` : base;
}

/** POSTs one object to the API server; throws with the server's answer unless 201. */
export async function createObject(cluster: Cluster, o: KubernetesObject): Promise<void> {
  const res = await cluster.request("POST", apiPath(o), o);
  if (res.status !== 201) {
    throw new Error(`creating ${o.kind} ${o.metadata?.name}: HTTP ${res.status} ${res.body.slice(0, 300)}`);
  }
}

export async function createNamespace(cluster: Cluster, name: string): Promise<void> {
  const res = await cluster.request("POST", "/api/v1/namespaces", { metadata: { name } });
  if (res.status !== 201) throw new Error(`creating namespace ${name}: HTTP ${res.status} ${res.body}`);
}

export async function getPod(cluster: Cluster, ns: string, name: string): Promise<V1Pod | undefined> {
  const res = await cluster.request("GET", `/api/v1/namespaces/${ns}/pods/${name}`);
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw new Error(`GET pod ${ns}/${name}: HTTP ${res.status} ${res.body}`);
  return JSON.parse(res.body) as V1Pod;
}

export async function deletePod(cluster: Cluster, ns: string, name: string): Promise<void> {
  const res = await cluster.request("DELETE", `/api/v1/namespaces/${ns}/pods/${name}`);
  if (res.status !== 200 && res.status !== 404) {
    throw new Error(`DELETE pod ${ns}/${name}: HTTP ${res.status} ${res.body}`);
  }
}

export const isReady = (p: V1Pod | undefined) =>
  p?.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

/** The last lines of a pod's log through `kubectl logs`, for failure messages. */
export async function logTail(cluster: Cluster, ns: string, pod: string, lines = 40): Promise<string> {
  const r = await cluster.kubectl(["logs", "-n", ns, pod, `--tail=${lines}`]);
  const status = JSON.stringify(
    (await getPod(cluster, ns, pod).catch(() => undefined))?.status?.containerStatuses,
  );
  return `--- ${ns}/${pod} status: ${status}\n--- last ${lines} log lines:\n${r.stdout}${r.stderr}`;
}

/** Waits for a Ready pod and returns its REST client (pod IP:8081). */
export async function jobManagerRest(
  cluster: Cluster,
  ns: string,
  pod: string,
  timeoutMs: number,
): Promise<FlinkRest> {
  const p = await pollUntil(
    `pod ${ns}/${pod} Ready`,
    async () => {
      const p = await getPod(cluster, ns, pod);
      return isReady(p) ? p : undefined;
    },
    { timeoutMs, describe: () => logTail(cluster, ns, pod) },
  );
  return new FlinkRest(`http://${p.status?.podIP}:8081`);
}

/** VmRSS of a process in KiB, or undefined when it is gone. */
export function rssKiB(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** The command line of a live process ("" when it is gone). */
export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}
