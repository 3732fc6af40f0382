// The workspace agent soak's checks of the final state: the control plane's log against the
// ConfigMaps' generations (the journal), the pods each deployment asks for, the status received and
// the events the workspace agent logged (one line per event, with its id).
import type { KubeClient } from "@meridian/shared/kube/client";
import {
  COMPONENT_JOBMANAGER,
  COMPONENT_TASKMANAGER,
  LABEL_COMPONENT,
  LABEL_DEPLOYMENT,
  MANAGED_BY_WORKSPACE_AGENT,
  managedBySelector,
} from "@meridian/shared/kube/labels";
import { type KubeList, PODS, resourcePath, SERVICES } from "@meridian/shared/kube/resources";
import {
  type DeploymentSpec,
  taskManagerReplicas,
  type WorkspaceAgentStatus,
} from "@meridian/shared/protocol/index";
import {
  compareApplied,
  compareEvents,
  compareReported,
  type ReportedItems,
  snapshotIds,
} from "./compare.ts";
import { type Expected, liveGenerations } from "./expected.ts";
import type { AppliedItem } from "./journal.ts";

export function reportedDeployments(status: WorkspaceAgentStatus | null | undefined): ReportedItems {
  return new Map(
    (status?.deployments ?? []).map((d) => [
      d.name,
      { observedGeneration: d.observedGeneration, phase: d.phase },
    ]),
  );
}

/** Event ids of the workspace agent's "deployment upsert" / "deployment delete" log lines. */
export function eventIdsLogged(lines: readonly string[]): string[] {
  const ids: string[] = [];
  for (const line of lines) {
    if (!line.includes('"deployment upsert"') && !line.includes('"deployment delete"')) continue;
    const { eventId } = JSON.parse(line) as { eventId?: string };
    if (eventId !== undefined) ids.push(eventId);
  }
  return ids;
}

export async function checkWorkspaceAgent(o: {
  expected: Expected;
  journal: Map<string, AppliedItem>;
  status: WorkspaceAgentStatus | null;
  logLines: readonly string[];
  client: KubeClient;
  namespace: string;
}): Promise<string[]> {
  const { expected } = o;
  const problems = [
    ...compareApplied("deployment", expected, o.journal),
    ...compareReported("deployment", expected, reportedDeployments(o.status)),
    ...compareEvents(
      "workspace stream",
      expected,
      { ids: eventIdsLogged(o.logLines), snapshots: snapshotIds(o.logLines) },
      o.status?.lastEventId,
    ),
  ];
  if (o.status?.rejectedEvents.count)
    problems.push(`the workspace agent rejected ${o.status.rejectedEvents.count} events`);

  const list = (type: typeof PODS) =>
    o.client.request<KubeList>({
      method: "GET",
      path: resourcePath(type, o.namespace),
      query: { labelSelector: managedBySelector(MANAGED_BY_WORKSPACE_AGENT) },
    });
  const pods = (await list(PODS)).items.filter((p) => !p.metadata?.deletionTimestamp);
  const services = new Set((await list(SERVICES)).items.map((s) => s.metadata?.labels?.[LABEL_DEPLOYMENT]));
  const count = (name: string, component: string) =>
    pods.filter(
      (p) =>
        p.metadata?.labels?.[LABEL_DEPLOYMENT] === name && p.metadata.labels[LABEL_COMPONENT] === component,
    ).length;
  const live = liveGenerations(expected);
  for (const [name, item] of expected.items) {
    const jm = count(name, COMPONENT_JOBMANAGER);
    const tm = count(name, COMPONENT_TASKMANAGER);
    if (!live.has(name)) {
      if (jm + tm > 0 || services.has(name))
        problems.push(`deployment ${name} was deleted in the log but has ${jm + tm} pods or its Service`);
      continue;
    }
    const want = taskManagerReplicas(item.spec as unknown as DeploymentSpec);
    if (jm !== 1 || tm !== want)
      problems.push(
        `deployment ${name}: ${jm} JobManager and ${tm} TaskManager pods, the log's last spec asks for 1 and ${want}`,
      );
    if (!services.has(name)) problems.push(`deployment ${name}: no JobManager Service`);
  }
  return problems;
}
