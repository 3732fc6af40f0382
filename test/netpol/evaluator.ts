// A NetworkPolicy evaluator: the semantics of networking.k8s.io/v1 NetworkPolicy (the API reference and
// the upstream conformance cases) for TCP/UDP connections between pods and addresses, in memory. It is
// a stand-in for an enforcing implementation, which the local cluster does not run (docs/security.md,
// "Namespace hardening", says why): the workspace's rendered policies are judged by it, not by packets.
//
// The rules implemented: a pod is isolated for a direction when some policy in its namespace selects it
// and lists that direction in policyTypes (absent policyTypes: Ingress, plus Egress when egress rules
// exist); an isolated pod admits only what some selecting policy's rule allows (rules add up); a
// connection needs the source's egress and the target's ingress. A rule with no peers matches every
// peer, with no ports every port; a peer is a podSelector (policy's namespace), a namespaceSelector (all
// pods there), both (those pods in those namespaces), or an ipBlock (an address in the CIDR and in no
// exception). Ports match by number, by endPort range, or by name against the target pod's ports.
import { isIP } from "node:net";

export interface Selector {
  matchLabels?: Record<string, string>;
  matchExpressions?: {
    key: string;
    operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
    values?: string[];
  }[];
}
interface Peer {
  podSelector?: Selector;
  namespaceSelector?: Selector;
  ipBlock?: { cidr: string; except?: string[] };
}
interface PolicyPort {
  port?: number | string;
  endPort?: number;
  protocol?: string;
}
interface Rule {
  from?: Peer[];
  to?: Peer[];
  ports?: PolicyPort[];
}
export interface NetworkPolicy {
  metadata?: { name?: string; namespace?: string };
  spec?: { podSelector?: Selector; policyTypes?: string[]; ingress?: Rule[]; egress?: Rule[] };
}

export interface Pod {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  ip: string;
  ports?: { name?: string; containerPort: number; protocol?: string }[];
}

export interface World {
  /** Namespace name -> its labels (kubernetes.io/metadata.name is added as the API server does). */
  namespaces: Record<string, Record<string, string>>;
  pods: Pod[];
  policies: NetworkPolicy[];
}

export type Endpoint = Pod | { ip: string };

const isPod = (e: Endpoint): e is Pod => "namespace" in e;

export function matches(sel: Selector | undefined, labels: Record<string, string>): boolean {
  if (!sel) return true;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = e.key in labels;
    const value = labels[e.key];
    const ok =
      e.operator === "In"
        ? has && (e.values ?? []).includes(value ?? "")
        : e.operator === "NotIn"
          ? !has || !(e.values ?? []).includes(value ?? "")
          : e.operator === "Exists"
            ? has
            : !has;
    if (!ok) return false;
  }
  return true;
}

function toBits(ip: string): bigint {
  if (isIP(ip) === 4) return ip.split(".").reduce((n, o) => (n << 8n) | BigInt(Number(o)), 0n);
  const [head = "", tail = ""] = ip.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = ip.includes("::") ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t] : h;
  return groups.reduce((n, g) => (n << 16n) | BigInt(Number.parseInt(g, 16)), 0n);
}

export function inCidr(ip: string, cidr: string): boolean {
  const [net = "", bits = "0"] = cidr.split("/");
  const family = isIP(net);
  if (family === 0 || isIP(ip) !== family) return false;
  const width = family === 4 ? 32n : 128n;
  const shift = width - BigInt(Number(bits));
  return toBits(ip) >> shift === toBits(net) >> shift;
}

function namespaceLabels(w: World, ns: string): Record<string, string> {
  return { ...(w.namespaces[ns] ?? {}), "kubernetes.io/metadata.name": ns };
}

function peerMatches(w: World, policyNs: string, peer: Peer, other: Endpoint): boolean {
  if (peer.ipBlock) {
    const ip = other.ip;
    return inCidr(ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((c) => inCidr(ip, c));
  }
  if (!isPod(other)) return false;
  if (peer.namespaceSelector) {
    if (!matches(peer.namespaceSelector, namespaceLabels(w, other.namespace))) return false;
  } else if (other.namespace !== policyNs) return false;
  return matches(peer.podSelector, other.labels);
}

function portMatches(
  ports: PolicyPort[] | undefined,
  target: Endpoint,
  port: number,
  protocol: string,
): boolean {
  if (!ports || ports.length === 0) return true;
  return ports.some((p) => {
    if ((p.protocol ?? "TCP") !== protocol) return false;
    if (p.port === undefined) return true;
    if (typeof p.port === "string") {
      const named = isPod(target) ? target.ports?.find((c) => c.name === p.port) : undefined;
      return named !== undefined && named.containerPort === port && (named.protocol ?? "TCP") === protocol;
    }
    return p.endPort === undefined ? p.port === port : port >= p.port && port <= p.endPort;
  });
}

function types(p: NetworkPolicy): string[] {
  if (p.spec?.policyTypes) return p.spec.policyTypes;
  return p.spec?.egress ? ["Ingress", "Egress"] : ["Ingress"];
}

/** Whether `pod`'s traffic in `direction` with `peer` on `port` is admitted by the policies selecting it. */
function admits(
  w: World,
  pod: Pod,
  direction: "Ingress" | "Egress",
  peer: Endpoint,
  port: number,
  protocol: string,
): boolean {
  const selecting = w.policies.filter(
    (p) =>
      p.metadata?.namespace === pod.namespace &&
      matches(p.spec?.podSelector, pod.labels) &&
      types(p).includes(direction),
  );
  if (selecting.length === 0) return true;
  const target = direction === "Ingress" ? pod : peer;
  return selecting.some((p) =>
    (direction === "Ingress" ? (p.spec?.ingress ?? []) : (p.spec?.egress ?? [])).some((rule) => {
      const peers = direction === "Ingress" ? rule.from : rule.to;
      const peerOk =
        !peers || peers.length === 0 || peers.some((x) => peerMatches(w, pod.namespace, x, peer));
      return peerOk && portMatches(rule.ports, target, port, protocol);
    }),
  );
}

/** Whether a connection from `from` to `to` on `port` is allowed by every pod's policies on the way. */
export function allowed(w: World, from: Endpoint, to: Endpoint, port: number, protocol = "TCP"): boolean {
  if (isPod(from) && !admits(w, from, "Egress", to, port, protocol)) return false;
  if (isPod(to) && !admits(w, to, "Ingress", from, port, protocol)) return false;
  return true;
}
