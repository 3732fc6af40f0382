// Where a workspace agent keeps the newest event it accepted on its signed stream (shared/src/
// controlplane/replay-mark.ts, docs/decisions.md 46): the ConfigMap `meridian-stream-mark` in its own
// namespace, labelled as its own (its Role and the confinement policy let it write exactly such
// ConfigMaps; it carries no deployment label, so no deployment's reconcile looks at it). Written by
// server-side apply and never deleted; the namespace's deletion takes it along.
import type { ReplayMark, ReplayMarkStore } from "@meridian/shared/controlplane/replay-mark";
import { markText, parseMark } from "@meridian/shared/controlplane/replay-mark";
import { applyObject, getObject } from "@meridian/shared/kube/apply";
import type { KubeClient } from "@meridian/shared/kube/client";
import {
  COMPONENT_WORKSPACE_AGENT,
  FIELD_MANAGER_WORKSPACE_AGENT,
  LABEL_COMPONENT,
  LABEL_WORKSPACE,
  MANAGED_BY_WORKSPACE_AGENT,
  meridianLabels,
} from "@meridian/shared/kube/labels";
import { CONFIG_MAPS } from "@meridian/shared/kube/resources";

export const STREAM_MARK_CONFIG_MAP = "meridian-stream-mark";

/** The mark in the ConfigMap `meridian-stream-mark` of the workspace agent's namespace. */
export function configMapReplayMarks(
  kube: KubeClient,
  namespace: string,
  workspaceId: string,
): ReplayMarkStore {
  return {
    where: `ConfigMap ${namespace}/${STREAM_MARK_CONFIG_MAP}`,
    async load(): Promise<ReplayMark | undefined> {
      const cm = await getObject(kube, CONFIG_MAPS, namespace, STREAM_MARK_CONFIG_MAP);
      return parseMark((cm?.data as Record<string, string> | undefined)?.mark);
    },
    async save(mark: ReplayMark, signal?: AbortSignal): Promise<void> {
      const labels = meridianLabels(MANAGED_BY_WORKSPACE_AGENT, {
        [LABEL_WORKSPACE]: workspaceId,
        [LABEL_COMPONENT]: COMPONENT_WORKSPACE_AGENT,
      });
      const cm = {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: STREAM_MARK_CONFIG_MAP, namespace, labels },
        data: { mark: markText(mark) },
      };
      await applyObject(kube, CONFIG_MAPS, cm, {
        fieldManager: FIELD_MANAGER_WORKSPACE_AGENT,
        force: true,
        signal,
      });
    },
  };
}
