// The labels of everything the agent creates for a workspace (docs/CONVENTIONS.md): part-of Meridian,
// managed by the agent, the workspace id and the component. Shared by the builders (objects.ts,
// storage-objects.ts).
import {
  LABEL_COMPONENT,
  LABEL_WORKSPACE,
  MANAGED_BY_AGENT,
  meridianLabels,
} from "@meridian/shared/kube/labels";

export function workspaceLabels(id: string, component?: string): Record<string, string> {
  return meridianLabels(MANAGED_BY_AGENT, { [LABEL_COMPONENT]: component, [LABEL_WORKSPACE]: id });
}
