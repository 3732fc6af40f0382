// Helpers for the node simulator's integration tests: polling, kubectl that
// must succeed, and compact pod manifests.
import assert from "node:assert/strict";
import type { V1Container, V1Pod, V1PodSpec } from "@kubernetes/client-node";
import type { Cluster } from "../index.ts";
import type { KubeApi } from "./kube-api.ts";

export async function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 45_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`, { cause: last });
    await new Promise((r) => setTimeout(r, 250));
  }
}

export const isReady = (p: V1Pod) =>
  p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

/** kubectl and API reads scoped to one namespace. */
export class TestNamespace {
  readonly cluster: Cluster;
  readonly api: KubeApi;
  readonly ns: string;

  constructor(cluster: Cluster, api: KubeApi, ns: string) {
    this.cluster = cluster;
    this.api = api;
    this.ns = ns;
  }

  /** Runs kubectl (with `-n <ns>` first) and fails the test on a non-zero exit. */
  async kubectl(args: string[], input?: string): Promise<string> {
    const full = ["-n", this.ns, ...args];
    const res = await this.cluster.kubectl(full, input === undefined ? {} : { input });
    assert.equal(res.code, 0, `kubectl ${full.join(" ")} failed: ${res.stderr}`);
    return res.stdout;
  }

  /** Creates the namespace and waits for its default ServiceAccount. */
  async create(): Promise<void> {
    await this.cluster.kubectl(["create", "namespace", this.ns]);
    await eventually("the default ServiceAccount", async () => {
      return (await this.cluster.kubectl(["get", "sa", "default", "-n", this.ns])).code === 0;
    });
  }

  getPod(name: string): Promise<V1Pod> {
    return this.api.get<V1Pod>(`/api/v1/namespaces/${this.ns}/pods/${name}`);
  }

  /** A ready, non-terminating pod matching the label selector. */
  readyPod(selector: string): Promise<V1Pod> {
    return eventually(`a ready pod with ${selector}`, async () => {
      const list = await this.api.get<{ items: V1Pod[] }>(`/api/v1/namespaces/${this.ns}/pods`, {
        labelSelector: selector,
      });
      return list.items.find((p) => !p.metadata?.deletionTimestamp && isReady(p));
    });
  }

  /** Waits for a status.phase of a pod, which `want` decides. */
  podWhere(name: string, what: string, want: (p: V1Pod) => boolean): Promise<V1Pod> {
    return eventually(`pod ${name}: ${what}`, async () => {
      const p = await this.getPod(name);
      return want(p) && p;
    });
  }

  /** Applies a pod labelled app=<name> whose single container `main` runs image sim/shell:1. */
  async applyPod(
    name: string,
    container: Partial<V1Container>,
    spec: Partial<V1PodSpec> = {},
  ): Promise<void> {
    const manifest = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace: this.ns, labels: { app: name } },
      spec: {
        restartPolicy: "Never",
        ...spec,
        containers: [{ name: "main", image: "sim/shell:1", ...container }],
      },
    };
    await this.kubectl(["apply", "-f", "-"], JSON.stringify(manifest));
  }
}
