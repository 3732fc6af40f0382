// Simulated Nodes: registration (capacity, Ready, InternalIP 127.0.0.1, the
// kubelet endpoint port of the simulator's log server) and the heartbeat a
// kubelet keeps: its Lease in kube-node-lease renewed every 10 s, and the
// node's conditions re-posted every 60 s, so the node lifecycle controller
// never marks the node NotReady or taints it unreachable.
import type { V1Lease, V1Node } from "@kubernetes/client-node";
import type { Logger } from "@meridian/shared/log";
import { isStatus, type KubeApi } from "./kube-api.ts";

export const LEASE_RENEW_MS = 10_000;
export const STATUS_EVERY_MS = 60_000;
export const NODE_CAPACITY = { cpu: "16", memory: "32Gi", pods: "110", "ephemeral-storage": "100Gi" };

/** metav1.MicroTime: RFC 3339 with microseconds. */
export function microTime(d = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** metav1.Time: RFC 3339 with seconds. */
export function rfc3339(d = new Date()): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function nodeStatus(kubeletPort: number, since: string) {
  const now = rfc3339();
  const cond = (type: string, status: string, reason: string, message: string) => ({
    type,
    status,
    reason,
    message,
    lastHeartbeatTime: now,
    lastTransitionTime: since,
  });
  return {
    capacity: NODE_CAPACITY,
    allocatable: NODE_CAPACITY,
    conditions: [
      cond(
        "MemoryPressure",
        "False",
        "KubeletHasSufficientMemory",
        "kubelet has sufficient memory available",
      ),
      cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
      cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
      cond("Ready", "True", "KubeletReady", "Meridian node simulator is posting ready status"),
    ],
    addresses: [{ type: "InternalIP", address: "127.0.0.1" }],
    daemonEndpoints: { kubeletEndpoint: { Port: kubeletPort } },
    nodeInfo: {
      machineID: "meridian-sim",
      systemUUID: "meridian-sim",
      bootID: "meridian-sim",
      kernelVersion: "simulated",
      osImage: "Meridian node simulator",
      containerRuntimeVersion: "sim://1",
      kubeletVersion: "v1.35.4",
      kubeProxyVersion: "",
      operatingSystem: "linux",
      architecture: "amd64",
    },
  };
}

export class SimulatedNodes {
  readonly names: string[];
  readonly #api: KubeApi;
  readonly #logger: Logger;
  readonly #kubeletPort: number;
  readonly #since = rfc3339();
  readonly #uids = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;
  #lastStatus = 0;
  #stopped = false;

  constructor(api: KubeApi, logger: Logger, names: string[], kubeletPort: number) {
    this.#api = api;
    this.#logger = logger;
    this.names = names;
    this.#kubeletPort = kubeletPort;
  }

  async register(): Promise<void> {
    for (const name of this.names) {
      const node = {
        apiVersion: "v1",
        kind: "Node",
        metadata: {
          name,
          labels: {
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "meridian.dev/simulated-node": "true",
          },
        },
        spec: {},
        status: nodeStatus(this.#kubeletPort, this.#since),
      };
      let created: V1Node;
      try {
        created = await this.#api.request<V1Node>("POST", "/api/v1/nodes", { body: node });
      } catch (err) {
        if (!isStatus(err, 409)) throw new Error(`registering node ${name} failed`, { cause: err });
        created = await this.#api.patch<V1Node>(`/api/v1/nodes/${name}`, { metadata: node.metadata });
      }
      this.#uids.set(name, created.metadata?.uid ?? "");
    }
    await this.#postStatus();
    // kube-node-lease may not exist for a moment after the apiserver starts: the heartbeat retries.
    await this.#renewLeases().catch((err) =>
      this.#logger.info({ err }, "first lease renewal failed; retrying"),
    );
    this.#timer = setInterval(() => void this.#heartbeat(), LEASE_RENEW_MS);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
  }

  async #heartbeat(): Promise<void> {
    if (this.#stopped) return;
    try {
      await this.#renewLeases();
      if (Date.now() - this.#lastStatus >= STATUS_EVERY_MS) await this.#postStatus();
    } catch (err) {
      this.#logger.warn({ err }, "node heartbeat failed; retrying at the next period");
    }
  }

  async #postStatus(): Promise<void> {
    for (const name of this.names) {
      if (this.#stopped) return;
      await this.#api.patch(`/api/v1/nodes/${name}/status`, {
        status: nodeStatus(this.#kubeletPort, this.#since),
      });
    }
    this.#lastStatus = Date.now();
  }

  async #renewLeases(): Promise<void> {
    for (const name of this.names) {
      if (this.#stopped) return;
      const path = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${name}`;
      const renewTime = microTime();
      try {
        const lease = await this.#api.get<V1Lease>(path);
        lease.spec = {
          ...lease.spec,
          holderIdentity: name,
          leaseDurationSeconds: 40,
          renewTime: renewTime as never,
        };
        await this.#api.request("PUT", path, { body: lease });
      } catch (err) {
        if (!isStatus(err, 404)) throw err;
        await this.#api.request("POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", {
          body: {
            apiVersion: "coordination.k8s.io/v1",
            kind: "Lease",
            metadata: {
              name,
              namespace: "kube-node-lease",
              ownerReferences: [{ apiVersion: "v1", kind: "Node", name, uid: this.#uids.get(name) }],
            },
            spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime },
          },
        });
      }
    }
  }
}
