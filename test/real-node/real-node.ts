// The real node of a cluster started with startCluster({ realNode: true }), and the suite's usual
// start: a cluster with a real node and the agent image imported.
import { type Cluster, startCluster } from "../cluster/index.ts";
import type { RealNode } from "../cluster/real-node/node.ts";
import { buildDockerfileImage } from "../images/dockerfile-image.ts";

export function realNodeOf(cluster: Cluster): RealNode {
  const node = (cluster as { realNode?: RealNode }).realNode;
  if (!node) throw new Error("this cluster has no real node: start it with startCluster({ realNode: true })");
  return node;
}

/** The image the suite's Node 24 pods run (the agent image, its command overridden). */
export const NODE_IMAGE = "ghcr.io/meridian-dev/meridian-agent:0.1.0";

export async function startRealNodeCluster(): Promise<Cluster> {
  const cluster = await startCluster({ realNode: true });
  try {
    await realNodeOf(cluster).importImage(await buildDockerfileImage("agent"));
    return cluster;
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}
