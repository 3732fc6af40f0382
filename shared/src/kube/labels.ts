// Label keys and values on everything Meridian creates (the contract in docs/CONVENTIONS.md).
// Every selector and every builder takes its keys from here, never from a string literal.
import { PROCESS_AGENT, PROCESS_WORKSPACE_AGENT } from "../process/identity.ts";

export const LABEL_PART_OF = "app.kubernetes.io/part-of";
export const LABEL_MANAGED_BY = "app.kubernetes.io/managed-by";
export const LABEL_COMPONENT = "app.kubernetes.io/component";
export const LABEL_WORKSPACE = "meridian.dev/workspace";
export const LABEL_DEPLOYMENT = "meridian.dev/deployment";

export const PART_OF = "meridian";
export const MANAGED_BY_AGENT = PROCESS_AGENT;
export const MANAGED_BY_WORKSPACE_AGENT = PROCESS_WORKSPACE_AGENT;

/** Server-side apply field managers, one per process kind. */
export const FIELD_MANAGER_AGENT = PROCESS_AGENT;
export const FIELD_MANAGER_WORKSPACE_AGENT = PROCESS_WORKSPACE_AGENT;

export const COMPONENT_WORKSPACE_AGENT = "workspace-agent";
export const COMPONENT_JOBMANAGER = "jobmanager";
export const COMPONENT_TASKMANAGER = "taskmanager";

export type ManagedBy = typeof MANAGED_BY_AGENT | typeof MANAGED_BY_WORKSPACE_AGENT;

/** The labels every Meridian object carries, plus whatever the caller adds. */
export function meridianLabels(
  managedBy: ManagedBy,
  extra: Record<string, string | undefined> = {},
): Record<string, string> {
  const labels: Record<string, string> = { [LABEL_PART_OF]: PART_OF, [LABEL_MANAGED_BY]: managedBy };
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) labels[k] = v;
  return labels;
}

/** `key=value,key=value` for a list/watch `labelSelector`. */
export function selector(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

/** Selects what one manager owns: `app.kubernetes.io/managed-by=<manager>`. */
export function managedBySelector(managedBy: ManagedBy): string {
  return selector({ [LABEL_MANAGED_BY]: managedBy });
}
