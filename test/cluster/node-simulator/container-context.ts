// Builds the ContainerContext an image-map entry launches from: the container's
// env resolved as a kubelet would (ConfigMaps and Secrets fetched first, since
// resolveContainerEnv is pure), plus what every simulated container gets:
// service variables, KUBECONFIG, the hosts file and the hosts preload.
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import { expandCommand, resolveContainerEnv } from "./env.ts";
import { type ContainerContext, NODE_BIN_DIR } from "./image-map.ts";

export interface ObjectSource {
  configMap(namespace: string, name: string): Promise<Record<string, Buffer> | undefined>;
  secret(namespace: string, name: string): Promise<Record<string, Buffer> | undefined>;
}

export interface ContextInput {
  pod: V1Pod;
  container: V1Container;
  objects: ObjectSource;
  apiServer: string;
  podIP: string;
  hostIP: string;
  podDir: string;
  volumeDirs: Record<string, string>;
  /** Undefined when automountServiceAccountToken is false. */
  kubeconfigPath: string | undefined;
  hostsFile: string;
  preloadPath: string;
}

type Data = Map<string, Record<string, string> | undefined>;

/** Fetches the ConfigMaps and Secrets the container's env and envFrom name. */
async function envSources(
  c: V1Container,
  ns: string,
  objects: ObjectSource,
): Promise<{ cms: Data; secrets: Data }> {
  const cmNames = new Set<string>();
  const secretNames = new Set<string>();
  for (const f of c.envFrom ?? []) {
    if (f.configMapRef?.name) cmNames.add(f.configMapRef.name);
    if (f.secretRef?.name) secretNames.add(f.secretRef.name);
  }
  for (const e of c.env ?? []) {
    if (e.valueFrom?.configMapKeyRef?.name) cmNames.add(e.valueFrom.configMapKeyRef.name);
    if (e.valueFrom?.secretKeyRef?.name) secretNames.add(e.valueFrom.secretKeyRef.name);
  }
  const decode = (d: Record<string, Buffer> | undefined) =>
    d && Object.fromEntries(Object.entries(d).map(([k, v]) => [k, v.toString("utf8")]));
  const cms: Data = new Map();
  const secrets: Data = new Map();
  for (const n of cmNames) cms.set(`${ns}/${n}`, decode(await objects.configMap(ns, n)));
  for (const n of secretNames) secrets.set(`${ns}/${n}`, decode(await objects.secret(ns, n)));
  return { cms, secrets };
}

/** Throws (message as the kubelet's CreateContainerConfigError) when env cannot be resolved. */
export async function containerContext(i: ContextInput): Promise<ContainerContext> {
  const ns = i.pod.metadata?.namespace ?? "default";
  const { cms, secrets } = await envSources(i.container, ns, i.objects);
  const server = new URL(i.apiServer);
  const port = server.port || "443";
  const base: Record<string, string> = {
    PATH: `${NODE_BIN_DIR}:${process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin"}`,
    HOME: i.podDir,
    HOSTNAME: i.pod.spec?.hostname ?? i.pod.metadata?.name ?? "",
    KUBERNETES_SERVICE_HOST: server.hostname,
    KUBERNETES_SERVICE_PORT: port,
    KUBERNETES_SERVICE_PORT_HTTPS: port,
    KUBERNETES_PORT: `tcp://${server.hostname}:${port}`,
    ...(i.kubeconfigPath ? { KUBECONFIG: i.kubeconfigPath } : {}),
  };
  const res = resolveContainerEnv({
    pod: i.pod,
    container: i.container,
    podIP: i.podIP,
    hostIP: i.hostIP,
    base,
    sources: {
      configMap: (n, name) => cms.get(`${n}/${name}`),
      secret: (n, name) => secrets.get(`${n}/${name}`),
    },
  });
  if (!res.ok) throw new Error(res.error);
  return {
    pod: i.pod,
    container: expandCommand(i.container, res.env),
    env: {
      ...res.env,
      MERIDIAN_HOSTS_FILE: i.hostsFile,
      MERIDIAN_POD_NAMESPACE: ns,
      NODE_OPTIONS: [`--import=${i.preloadPath}`, res.env.NODE_OPTIONS].filter(Boolean).join(" "),
    },
    podIP: i.podIP,
    podDir: i.podDir,
    volumeDirs: i.volumeDirs,
    kubeconfigPath: i.kubeconfigPath ?? "",
    hostsFile: i.hostsFile,
  };
}
