// Tests run against a cluster of their own by default; with MERIDIAN_TEST_KUBECONFIG set they use
// that existing cluster instead (e.g. one from `npm run cluster -- up`), and stop() leaves it running.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { CertificateAuthority } from "./certs.ts";
import { type StartClusterOptions, startCluster } from "./cluster.ts";
import { type Cluster, ClusterHandle, type ComponentInfo, type HandleParts } from "./handle.ts";
import { KubeHttp } from "./http.ts";
import { kubeBinDir } from "./paths.ts";
import { readState } from "./state.ts";

class ExternalCluster extends ClusterHandle {
  readonly external = true;
  readonly logDir = undefined;
  readonly components: readonly ComponentInfo[] = [];
  #stopped = false;

  constructor(parts: HandleParts) {
    super(parts);
  }

  /** Leaves the cluster running; removes only this handle's own files. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.http.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * A handle on an existing cluster. Admin operations use the kubeconfig's current context.
 * Certificates can be signed only if the kubeconfig is the one `npm run cluster -- up` wrote
 * (its state file says where the CA key is).
 */
export async function clusterFromKubeconfig(kubeconfigPath: string): Promise<Cluster> {
  const path = resolve(kubeconfigPath);
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(path);
  } catch (err) {
    throw new Error(`cannot read kubeconfig ${path} (MERIDIAN_TEST_KUBECONFIG?)`, { cause: err });
  }
  const current = kc.getCurrentCluster();
  if (!current) throw new Error(`kubeconfig ${path} has no current cluster; set current-context`);
  const caPem = current.caData
    ? Buffer.from(current.caData, "base64").toString("utf8")
    : current.caFile
      ? await readFile(current.caFile, "utf8")
      : "";
  const dir = await mkdtemp(join(tmpdir(), "meridian-external-"));
  try {
    const caPath = join(dir, "ca.crt");
    await writeFile(caPath, caPem);
    const state = readState();
    const ca =
      state && resolve(state.kubeconfig) === path
        ? await CertificateAuthority.load(
            join(state.dir, "pki", "ca.crt"),
            join(state.dir, "pki", "ca.key"),
            dir,
          )
        : undefined;
    const http = await KubeHttp.fromKubeconfigFile(path);
    return new ExternalCluster({
      dir,
      binDir: kubeBinDir(),
      server: current.server,
      kubeconfigPath: path,
      caPem,
      caPath,
      http,
      ca,
    });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** The existing cluster named by MERIDIAN_TEST_KUBECONFIG, or undefined when it is not set. */
export async function clusterFromEnv(): Promise<Cluster | undefined> {
  const path = process.env.MERIDIAN_TEST_KUBECONFIG;
  return path ? clusterFromKubeconfig(path) : undefined;
}

/**
 * The cluster a test file should use: the one in MERIDIAN_TEST_KUBECONFIG if set (stop() then
 * leaves it running), otherwise a fresh one from startCluster(opts).
 */
export async function getTestCluster(opts: StartClusterOptions = {}): Promise<Cluster> {
  return (await clusterFromEnv()) ?? startCluster(opts);
}
