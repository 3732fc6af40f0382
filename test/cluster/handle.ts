// What a test holds on to: the Cluster interface and the operations every cluster offers, whether
// this process started it (cluster.ts) or it already existed (external.ts).
import { spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { CertificateAuthority, IssuedCert } from "./certs.ts";
import type { HttpResponse, KubeHttp } from "./http.ts";
import { writeKubeconfig } from "./kubeconfig.ts";

export type { IssuedCert } from "./certs.ts";

export interface KubectlResult {
  stdout: string;
  stderr: string;
  /** Exit code; -1 if kubectl was killed (timeout). */
  code: number;
}

export interface KubectlOptions {
  /** Written to kubectl's stdin (e.g. a manifest for `apply -f -`). */
  input?: string;
  /** Another kubeconfig than the admin one (e.g. from serviceAccountKubeconfig). */
  kubeconfig?: string;
  /** Default 60 s. */
  timeoutMs?: number;
}

export interface ServiceAccountKubeconfigOptions {
  /** Token lifetime; the apiserver's minimum is 600. Default 3600. */
  expirationSeconds?: number;
  /** Default: the apiserver's own audience. */
  audiences?: string[];
}

export interface ComponentInfo {
  name: string;
  pid: number;
  logPath: string;
}

export interface Cluster {
  /** True when the cluster came from MERIDIAN_TEST_KUBECONFIG; stop() then leaves it running. */
  readonly external: boolean;
  /** Temporary directory of this handle (pki, kubeconfigs, etcd data for a local cluster). */
  readonly dir: string;
  /** Where kubectl and the component binaries are. */
  readonly binDir: string;
  /** https://127.0.0.1:<port> */
  readonly server: string;
  /** Admin kubeconfig (user in group system:masters), credentials embedded. */
  readonly kubeconfigPath: string;
  readonly caPem: string;
  readonly caPath: string;
  /** Component log directory, or undefined for an external cluster. */
  readonly logDir: string | undefined;
  /** The running component processes (empty for an external cluster). */
  readonly components: readonly ComponentInfo[];
  /** Runs the built kubectl with the admin kubeconfig (or opts.kubeconfig). Never throws on exit code. */
  kubectl(args: string[], opts?: KubectlOptions): Promise<KubectlResult>;
  /** TokenRequest for the ServiceAccount, written into a kubeconfig; returns its path. */
  serviceAccountKubeconfig(
    namespace: string,
    name: string,
    opts?: ServiceAccountKubeconfigOptions,
  ): Promise<string>;
  /** A serving certificate for `hosts` (DNS names and IPs) signed by the cluster CA. */
  issueServingCert(hosts: string[]): Promise<IssuedCert>;
  /** A client certificate signed by the cluster CA (user = commonName, groups = organizations). */
  issueClientCert(commonName: string, organizations?: string[]): Promise<IssuedCert>;
  /** A kubeconfig authenticating with a fresh client certificate; returns its path. */
  clientCertKubeconfig(commonName: string, organizations?: string[]): Promise<string>;
  /** One admin HTTPS request to the apiserver; `body` objects are sent as JSON. */
  request(method: string, path: string, body?: unknown): Promise<HttpResponse>;
  /** Stops the components in reverse start order and removes `dir`. Idempotent. */
  stop(): Promise<void>;
}

export interface HandleParts {
  dir: string;
  binDir: string;
  server: string;
  kubeconfigPath: string;
  caPem: string;
  caPath: string;
  http: KubeHttp;
  /** Absent when the CA key is unknown (external cluster not started by the CLI). */
  ca: CertificateAuthority | undefined;
}

const safe = (s: string) => s.replace(/[^a-zA-Z0-9.-]/g, "_");

/** The operations shared by local and external clusters. */
export abstract class ClusterHandle implements Cluster {
  abstract readonly external: boolean;
  abstract readonly logDir: string | undefined;
  abstract readonly components: readonly ComponentInfo[];
  readonly dir: string;
  readonly binDir: string;
  readonly server: string;
  readonly kubeconfigPath: string;
  readonly caPem: string;
  readonly caPath: string;
  protected readonly http: KubeHttp;
  readonly #ca: CertificateAuthority | undefined;
  #serial = 0;

  constructor(parts: HandleParts) {
    this.dir = parts.dir;
    this.binDir = parts.binDir;
    this.server = parts.server;
    this.kubeconfigPath = parts.kubeconfigPath;
    this.caPem = parts.caPem;
    this.caPath = parts.caPath;
    this.http = parts.http;
    this.#ca = parts.ca;
  }

  abstract stop(): Promise<void>;

  request(method: string, path: string, body?: unknown): Promise<HttpResponse> {
    return this.http.request(method, path, body);
  }

  kubectl(args: string[], opts: KubectlOptions = {}): Promise<KubectlResult> {
    const env: NodeJS.ProcessEnv = { ...process.env, KUBECACHEDIR: join(this.dir, "kubectl-cache") };
    delete env.KUBECONFIG;
    const child = spawn(
      join(this.binDir, "kubectl"),
      [`--kubeconfig=${opts.kubeconfig ?? this.kubeconfigPath}`, ...args],
      {
        env,
        stdio: ["pipe", "pipe", "pipe"],
        timeout: opts.timeoutMs ?? 60_000,
      },
    );
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    child.stdin.on("error", () => {});
    child.stdin.end(opts.input ?? "");
    return new Promise((resolve, reject) => {
      child.on("error", (e) =>
        reject(new Error(`kubectl could not be run from ${this.binDir}`, { cause: e })),
      );
      child.on("close", (code) =>
        resolve({
          stdout: Buffer.concat(out).toString(),
          stderr: Buffer.concat(err).toString(),
          code: code ?? -1,
        }),
      );
    });
  }

  async serviceAccountKubeconfig(
    namespace: string,
    name: string,
    opts: ServiceAccountKubeconfigOptions = {},
  ): Promise<string> {
    const spec: Record<string, unknown> = { expirationSeconds: opts.expirationSeconds ?? 3600 };
    if (opts.audiences) spec.audiences = opts.audiences;
    const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/serviceaccounts/${encodeURIComponent(name)}/token`;
    const res = await this.http.request("POST", path, {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec,
    });
    if (res.status !== 201 && res.status !== 200) {
      throw new Error(
        `TokenRequest for ServiceAccount ${namespace}/${name} failed with HTTP ${res.status}: ${res.body.slice(0, 500)}` +
          " (does the ServiceAccount exist?)",
      );
    }
    const token = (JSON.parse(res.body) as { status?: { token?: string } }).status?.token;
    if (!token) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
    const file = join(
      await this.#kubeconfigDir(),
      `sa-${safe(namespace)}-${safe(name)}-${++this.#serial}.kubeconfig`,
    );
    return writeKubeconfig(file, {
      server: this.server,
      caPem: this.caPem,
      name: `sa-${namespace}-${name}`,
      user: { token },
      namespace,
    });
  }

  issueServingCert(hosts: string[]): Promise<IssuedCert> {
    if (hosts.length === 0) throw new Error("issueServingCert needs at least one host name or IP");
    return this.#requireCa().issue({
      name: `serving-${++this.#serial}`,
      commonName: hosts[0]!,
      hosts,
      usage: "server",
    });
  }

  issueClientCert(commonName: string, organizations: string[] = []): Promise<IssuedCert> {
    return this.#requireCa().issue({
      name: `client-${safe(commonName)}-${++this.#serial}`,
      commonName,
      organizations,
      usage: "client",
    });
  }

  async clientCertKubeconfig(commonName: string, organizations: string[] = []): Promise<string> {
    const cert = await this.issueClientCert(commonName, organizations);
    const file = join(await this.#kubeconfigDir(), `user-${safe(commonName)}-${++this.#serial}.kubeconfig`);
    return writeKubeconfig(file, {
      server: this.server,
      caPem: this.caPem,
      name: safe(commonName),
      user: { clientCertPem: cert.certPem, clientKeyPem: cert.keyPem },
    });
  }

  async #kubeconfigDir(): Promise<string> {
    const dir = join(this.dir, "kubeconfigs");
    await mkdir(dir, { recursive: true });
    return dir;
  }

  #requireCa(): CertificateAuthority {
    if (this.#ca === undefined) {
      throw new Error(
        "signing certificates needs the cluster CA key, which is unknown for this external cluster; " +
          "start it with `npm run cluster -- up` (its CA is found through .cache/cluster/state.json) or unset MERIDIAN_TEST_KUBECONFIG",
      );
    }
    return this.#ca;
  }
}
