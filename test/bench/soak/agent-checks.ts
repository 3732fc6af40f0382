// The agent soak's checks of the final state: the control plane's log against the Namespaces'
// generations (the journal), the objects that carry the spec, the status received and the events
// the agent counted.
import type { KubeObject } from "@meridian/shared/kube/resources";
import type { AgentStatus } from "@meridian/shared/protocol/index";
import { NAMES } from "../../../agent/src/workspace/objects.ts";
import { compareApplied, compareEvents, compareReported, type ReportedItems } from "./compare.ts";
import { type Expected, liveGenerations } from "./expected.ts";
import type { AppliedItem } from "./journal.ts";

export function reportedWorkspaces(status: AgentStatus | null | undefined): ReportedItems {
  return new Map(
    (status?.workspaces ?? []).map((w) => [
      w.id,
      { observedGeneration: w.observedGeneration, phase: w.phase },
    ]),
  );
}

/** Problems with the final state of the agent's workspaces; none when everything matches the log. */
export function checkAgent(o: {
  expected: Expected;
  journal: Map<string, AppliedItem>;
  status: AgentStatus | null;
  /** meridian_agent_stream_events_total by type. */
  streamEvents: Map<string, number>;
  /** Ids of the snapshots the agent logged. */
  snapshots: string[];
  /** The agent's ResourceQuotas and Deployments as they are now (watch caches). */
  quotas: KubeObject[];
  deployments: KubeObject[];
  namespacePrefix: string;
}): string[] {
  const { expected } = o;
  const problems = [
    ...compareApplied("workspace", expected, o.journal),
    ...compareReported("workspace", expected, reportedWorkspaces(o.status)),
  ];
  const counts = new Map([...o.streamEvents].filter(([type]) => type.startsWith("workspace.")));
  problems.push(
    ...compareEvents("agent stream", expected, { counts, snapshots: o.snapshots }, o.status?.lastEventId),
  );
  const rejected = (o.status?.rejectedEvents.count ?? 0) + (o.streamEvents.get("rejected") ?? 0);
  if (rejected)
    problems.push(`the agent rejected ${rejected} events; the reference control plane sends none to reject`);

  // The objects that carry the spec: the quota (what the updates change) and the workspace agent.
  const live = liveGenerations(expected);
  const quotas = new Map(
    o.quotas
      .filter((q) => q.metadata?.name === NAMES.quota && !q.metadata.deletionTimestamp)
      .map((q) => [q.metadata?.namespace, q]),
  );
  const deployments = new Set(
    o.deployments
      .filter((d) => d.metadata?.name === NAMES.deployment && !d.metadata.deletionTimestamp)
      .map((d) => d.metadata?.namespace),
  );
  for (const id of live.keys()) {
    const ns = `${o.namespacePrefix}${id}`;
    const want = (expected.items.get(id)?.spec.quota as { cpu: string } | undefined)?.cpu;
    const hard = (quotas.get(ns) as { spec?: { hard?: Record<string, string> } } | undefined)?.spec?.hard;
    if (hard?.["requests.cpu"] !== want)
      problems.push(
        `workspace ${id}: quota requests.cpu is ${hard?.["requests.cpu"]}, the log's last spec says ${want}`,
      );
    if (!deployments.has(ns)) problems.push(`workspace ${id}: no workspace-agent Deployment`);
  }
  return problems;
}
