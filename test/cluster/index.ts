// The local Kubernetes test cluster: import from here.
export { type StartClusterOptions, type StartNodeSimulator, startCluster } from "./cluster.ts";
export { clusterFromEnv, clusterFromKubeconfig, getTestCluster } from "./external.ts";
export type {
  Cluster,
  ComponentInfo,
  IssuedCert,
  KubectlOptions,
  KubectlResult,
  ServiceAccountKubeconfigOptions,
} from "./handle.ts";
export { kubeBinDir } from "./paths.ts";
