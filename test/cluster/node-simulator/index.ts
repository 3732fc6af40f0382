// The node simulator: a fake kubelet that runs pods as local processes. See docs/testing.md, "Node simulator".
export { AGENT_IMAGE, defaultImageMap, WORKSPACE_AGENT_IMAGE } from "./default-image-map.ts";
export { expandVars, resolveContainerEnv } from "./env.ts";
export type { ContainerContext, ContainerLaunch, ImageMapEntry } from "./image-map.ts";
export { genericCommand, imageMatches, nodeEntryPoint, withMountPaths } from "./image-map.ts";
export { SIMULATED_ANNOTATION } from "./pod-worker.ts";
export {
  HOST_IP,
  type NodeSimulator,
  type NodeSimulatorCluster,
  type NodeSimulatorOptions,
  podIPFor,
  startNodeSimulator,
} from "./simulator.ts";
