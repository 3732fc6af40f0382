// The NetworkPolicies of a workspace namespace, made explicit (docs/security.md, "Namespace hardening"):
//
//   meridian-default-deny            every pod: no ingress, no egress, unless another policy allows it
//   meridian-deny-cross-namespace    the Flink pods: ingress from the namespace's Flink pods (any port:
//                                    TaskManagers' data port is not fixed) and from its workspace agent
//                                    to the JobManager's REST port; egress to the namespace's Flink pods,
//                                    DNS, the Kubernetes API server (Kubernetes HA's ConfigMaps) and the
//                                    local policy's allowedEgress (object storage, sources, sinks)
//   meridian-workspace-agent-egress  the workspace agent: egress to DNS, the Kubernetes API server, the
//                                    control plane (or proxy) and the JobManagers' REST port
//
// The workspace agent accepts no connection (kubelet probes come from the node, which common CNIs
// always allow). Policies add up: a connection passes when the source's egress and the target's
// ingress are each allowed by some policy that selects the pod.
import {
  COMPONENT_JOBMANAGER,
  COMPONENT_TASKMANAGER,
  COMPONENT_WORKSPACE_AGENT,
  LABEL_COMPONENT,
} from "@meridian/shared/kube/labels";
import type { KubeObject } from "@meridian/shared/kube/resources";
import type { EgressDestination } from "../hardening-policy.ts";
import type { Endpoints, WorkspaceEgress } from "./egress.ts";
import { workspaceLabels } from "./labels.ts";

export const NETWORK_POLICY_NAMES = {
  defaultDeny: "meridian-default-deny",
  flink: "meridian-deny-cross-namespace",
  workspaceAgent: "meridian-workspace-agent-egress",
} as const;

/** The JobManager's REST port (workspace-agent/src/flink/objects.ts PORT_REST; a test keeps them equal). */
export const FLINK_REST_PORT = 8081;

type Peer = Record<string, unknown>;
type Rule = { to?: Peer[]; from?: Peer[]; ports?: { port: number; protocol: string }[] };

const tcp = (ports: number[]) => ports.map((port) => ({ port, protocol: "TCP" }));
const flinkPods: Peer = {
  podSelector: {
    matchExpressions: [
      { key: LABEL_COMPONENT, operator: "In", values: [COMPONENT_JOBMANAGER, COMPONENT_TASKMANAGER] },
    ],
  },
};
const jobManagers: Peer = { podSelector: { matchLabels: { [LABEL_COMPONENT]: COMPONENT_JOBMANAGER } } };
const workspaceAgent: Peer = {
  podSelector: { matchLabels: { [LABEL_COMPONENT]: COMPONENT_WORKSPACE_AGENT } },
};

function dnsRule(dns: WorkspaceEgress["dns"]): Rule {
  return {
    to: [
      {
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": dns.namespace } },
        podSelector: { matchLabels: { ...dns.podLabels } },
      },
    ],
    ports: [
      { port: 53, protocol: "UDP" },
      { port: 53, protocol: "TCP" },
    ],
  };
}

/** To these addresses on these ports; no addresses: any address. */
function endpointsRule(e: Endpoints): Rule {
  const rule: Rule = { ports: tcp(e.ports) };
  if (e.cidrs.length > 0) rule.to = e.cidrs.map((cidr) => ({ ipBlock: { cidr } }));
  return rule;
}

function destinationRule(d: EgressDestination): Rule {
  const ipBlock = d.except.length > 0 ? { cidr: d.cidr, except: [...d.except] } : { cidr: d.cidr };
  return d.ports.length > 0 ? { to: [{ ipBlock }], ports: tcp(d.ports) } : { to: [{ ipBlock }] };
}

function policy(id: string, ns: string, name: string, spec: Record<string, unknown>): KubeObject {
  return { metadata: { name, namespace: ns, labels: workspaceLabels(id) }, spec };
}

export function buildNetworkPolicies(
  id: string,
  ns: string,
  egress: WorkspaceEgress,
  allowedEgress: readonly EgressDestination[],
): KubeObject[] {
  return [
    policy(id, ns, NETWORK_POLICY_NAMES.defaultDeny, { podSelector: {}, policyTypes: ["Ingress", "Egress"] }),
    policy(id, ns, NETWORK_POLICY_NAMES.flink, {
      podSelector: flinkPods.podSelector,
      policyTypes: ["Ingress", "Egress"],
      ingress: [{ from: [flinkPods] }, { from: [workspaceAgent], ports: tcp([FLINK_REST_PORT]) }],
      egress: [
        { to: [flinkPods] },
        dnsRule(egress.dns),
        endpointsRule(egress.apiServer),
        ...allowedEgress.map(destinationRule),
      ],
    }),
    policy(id, ns, NETWORK_POLICY_NAMES.workspaceAgent, {
      podSelector: workspaceAgent.podSelector,
      policyTypes: ["Egress"],
      egress: [
        dnsRule(egress.dns),
        endpointsRule(egress.apiServer),
        endpointsRule(egress.controlPlane),
        { to: [jobManagers], ports: tcp([FLINK_REST_PORT]) },
      ],
    }),
  ];
}
