// The real node of a cluster started with startCluster({ realNode: true }).
import type { Cluster } from "../cluster/index.ts";
import type { RealNode } from "../cluster/real-node/node.ts";

export function realNodeOf(cluster: Cluster): RealNode {
  const node = (cluster as { realNode?: RealNode }).realNode;
  if (!node) throw new Error("this cluster has no real node: start it with startCluster({ realNode: true })");
  return node;
}
