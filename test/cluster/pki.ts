// The local cluster's certificates: one CA for everything except the aggregation layer's
// front proxy, which has its own, as on a kubeadm cluster.
import { CertificateAuthority, createSigningKeyPair } from "./certs.ts";
import { type ComponentLayout, firstServiceIp } from "./components.ts";

/** Every certificate and key the components need, made in parallel. */
export async function makePki(l: ComponentLayout) {
  const [ca, frontProxyCa] = await Promise.all([
    CertificateAuthority.create(l.pki, "ca", "meridian-cluster-ca"),
    CertificateAuthority.create(l.pki, "front-proxy-ca", "meridian-front-proxy-ca"),
    createSigningKeyPair(l.pki, "sa"),
  ]);
  const apiserverHosts = [
    ...(l.address === "127.0.0.1" ? [] : [l.address]),
    "127.0.0.1",
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    firstServiceIp(l.serviceCidr),
  ];
  const [, , , admin, controllerManager, scheduler] = await Promise.all([
    ca.issue({ name: "apiserver", commonName: "kube-apiserver", hosts: apiserverHosts, usage: "server" }),
    ca.issue({
      name: "apiserver-kubelet-client",
      commonName: "kube-apiserver-kubelet-client",
      organizations: ["system:masters"],
      usage: "client",
    }),
    frontProxyCa.issue({ name: "front-proxy-client", commonName: "front-proxy-client", usage: "client" }),
    ca.issue({
      name: "admin",
      commonName: "meridian-admin",
      organizations: ["system:masters"],
      usage: "client",
    }),
    ca.issue({ name: "controller-manager", commonName: "system:kube-controller-manager", usage: "client" }),
    ca.issue({ name: "scheduler", commonName: "system:kube-scheduler", usage: "client" }),
    ca.issue({
      name: "components-serving",
      commonName: "localhost",
      hosts: ["127.0.0.1", "localhost"],
      usage: "server",
    }),
  ]);
  return { ca, admin, controllerManager, scheduler };
}
