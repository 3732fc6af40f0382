// Command lines of the four control-plane components. Kept apart from the start-up choreography
// (cluster.ts) so that every flag and the reason for it can be read in one place.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";

/** Files and ports the components are started with. */
export interface ComponentLayout {
  dir: string;
  /** Where the API server listens and what it advertises: 127.0.0.1, or the real node's gateway. */
  address: string;
  pki: string;
  etcdDataDir: string;
  etcdClientPort: number;
  etcdPeerPort: number;
  apiserverPort: number;
  controllerManagerPort: number;
  schedulerPort: number;
  serviceCidr: string;
  serviceAccountIssuer: string;
  controllerManagerKubeconfig: string;
  schedulerKubeconfig: string;
}

const pki = (l: ComponentLayout, file: string) => join(l.pki, file);

export function etcdArgs(l: ComponentLayout): string[] {
  const client = `http://127.0.0.1:${l.etcdClientPort}`;
  const peer = `http://127.0.0.1:${l.etcdPeerPort}`;
  return [
    "--name=meridian",
    `--data-dir=${l.etcdDataDir}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=meridian=${peer}`,
    "--initial-cluster-state=new",
    // A throw-away test store: durability buys nothing and fsync costs seconds on slow disks.
    "--unsafe-no-fsync=true",
    "--log-level=warn",
  ];
}

export function apiserverArgs(l: ComponentLayout): string[] {
  return [
    `--etcd-servers=http://127.0.0.1:${l.etcdClientPort}`,
    `--bind-address=${l.address}`,
    `--advertise-address=${l.address}`,
    `--secure-port=${l.apiserverPort}`,
    `--cert-dir=${l.pki}`,
    `--tls-cert-file=${pki(l, "apiserver.crt")}`,
    `--tls-private-key-file=${pki(l, "apiserver.key")}`,
    `--client-ca-file=${pki(l, "ca.crt")}`,
    "--authorization-mode=Node,RBAC",
    // The default plugins (NamespaceLifecycle, ServiceAccount, ResourceQuota, ...) stay on;
    // NodeRestriction is added as kubeadm does, so node credentials behave as on a real cluster.
    "--enable-admission-plugins=NodeRestriction",
    "--allow-privileged=true",
    `--service-account-issuer=${l.serviceAccountIssuer}`,
    `--service-account-key-file=${pki(l, "sa.pub")}`,
    `--service-account-signing-key-file=${pki(l, "sa.key")}`,
    `--service-cluster-ip-range=${l.serviceCidr}`,
    // The apiserver dials kubelets (the node simulator) for logs/exec: it presents this client
    // certificate and verifies the kubelet's serving certificate against the cluster CA.
    `--kubelet-client-certificate=${pki(l, "apiserver-kubelet-client.crt")}`,
    `--kubelet-client-key=${pki(l, "apiserver-kubelet-client.key")}`,
    `--kubelet-certificate-authority=${pki(l, "ca.crt")}`,
    "--kubelet-preferred-address-types=InternalIP",
    // Aggregation layer (front proxy), as on a kubeadm cluster.
    `--requestheader-client-ca-file=${pki(l, "front-proxy-ca.crt")}`,
    "--requestheader-allowed-names=front-proxy-client",
    "--requestheader-username-headers=X-Remote-User",
    "--requestheader-group-headers=X-Remote-Group",
    "--requestheader-extra-headers-prefix=X-Remote-Extra-",
    `--proxy-client-cert-file=${pki(l, "front-proxy-client.crt")}`,
    `--proxy-client-key-file=${pki(l, "front-proxy-client.key")}`,
    "--profiling=false",
  ];
}

export function controllerManagerArgs(l: ComponentLayout): string[] {
  return [
    `--kubeconfig=${l.controllerManagerKubeconfig}`,
    "--bind-address=127.0.0.1",
    `--secure-port=${l.controllerManagerPort}`,
    `--tls-cert-file=${pki(l, "components-serving.crt")}`,
    `--tls-private-key-file=${pki(l, "components-serving.key")}`,
    "--controllers=*",
    "--leader-elect=false",
    "--use-service-account-credentials=true",
    `--service-account-private-key-file=${pki(l, "sa.key")}`,
    `--root-ca-file=${pki(l, "ca.crt")}`,
    `--cluster-signing-cert-file=${pki(l, "ca.crt")}`,
    `--cluster-signing-key-file=${pki(l, "ca.key")}`,
    `--service-cluster-ip-range=${l.serviceCidr}`,
    "--cluster-name=meridian",
    // The defaults (20 qps) throttle start-up, when every controller gets its own credentials.
    "--kube-api-qps=200",
    "--kube-api-burst=400",
    "--profiling=false",
  ];
}

/** Writes the scheduler's component config (its --kubeconfig/--leader-elect flags are deprecated). */
export async function writeSchedulerConfig(l: ComponentLayout): Promise<string> {
  const path = join(l.dir, "kube-scheduler.config.json");
  const config = {
    apiVersion: "kubescheduler.config.k8s.io/v1",
    kind: "KubeSchedulerConfiguration",
    clientConnection: { kubeconfig: l.schedulerKubeconfig, qps: 200, burst: 400 },
    leaderElection: { leaderElect: false },
  };
  await writeFile(path, JSON.stringify(config, null, 2));
  return path;
}

export function schedulerArgs(l: ComponentLayout, configPath: string): string[] {
  return [
    `--config=${configPath}`,
    "--bind-address=127.0.0.1",
    `--secure-port=${l.schedulerPort}`,
    `--tls-cert-file=${pki(l, "components-serving.crt")}`,
    `--tls-private-key-file=${pki(l, "components-serving.key")}`,
    "--profiling=false",
  ];
}

/** The first address of an IPv4 CIDR, which the apiserver gives the `kubernetes` Service. */
export function firstServiceIp(cidr: string): string {
  const [base] = cidr.split("/");
  const octets = (base ?? "").split(".").map(Number);
  if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) {
    throw new Error(`service CIDR ${cidr} is not an IPv4 CIDR like 10.96.0.0/16`);
  }
  const n = (((octets[0]! << 24) >>> 0) + (octets[1]! << 16) + (octets[2]! << 8) + octets[3]! + 1) >>> 0;
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}
