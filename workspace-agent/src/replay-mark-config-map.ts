// Where a workspace agent keeps the newest event it accepted on its signed stream (shared/src/
// controlplane/replay-mark.ts, docs/decisions.md 46): the ConfigMap `meridian-stream-mark` in its own
// namespace, labelled as its own (its Role and the confinement policy let it write exactly such
// ConfigMaps; it carries no deployment label, so no deployment's reconcile looks at it). Written by
// server-side apply and never deleted; the namespace's deletion takes it along. A deployment created
// by a stream event carries that event's mark on its own ConfigMap instead of a write here first
// (decision 50): the stored mark is the newest of this ConfigMap's and those, read with one list.
import type { ReplayMark, ReplayMarkStore } from "@meridian/shared/controlplane/replay-mark";
import {
  ANNOTATION_STREAM_MARK,
  markText,
  newestMark,
  parseMark,
} from "@meridian/shared/controlplane/replay-mark";
import { applyObject } from "@meridian/shared/kube/apply";
import type { KubeClient } from "@meridian/shared/kube/client";
import {
  COMPONENT_WORKSPACE_AGENT,
  FIELD_MANAGER_WORKSPACE_AGENT,
  LABEL_COMPONENT,
  LABEL_WORKSPACE,
  MANAGED_BY_WORKSPACE_AGENT,
  meridianLabels,
  selector,
} from "@meridian/shared/kube/labels";
import { CONFIG_MAPS, type KubeObject, resourcePath } from "@meridian/shared/kube/resources";

export const STREAM_MARK_CONFIG_MAP = "meridian-stream-mark";

/** What the workspace agent's ConfigMaps of `workspaceId` carry: the mark's and every deployment's. */
function ownLabels(workspaceId: string): Record<string, string> {
  return meridianLabels(MANAGED_BY_WORKSPACE_AGENT, { [LABEL_WORKSPACE]: workspaceId });
}

/** The mark in the ConfigMap `meridian-stream-mark` of the workspace agent's namespace. */
export function configMapReplayMarks(
  kube: KubeClient,
  namespace: string,
  workspaceId: string,
): ReplayMarkStore {
  return {
    where: `ConfigMap ${namespace}/${STREAM_MARK_CONFIG_MAP}`,
    async load(signal?: AbortSignal, stream?: string): Promise<ReplayMark | undefined> {
      const list = await kube.request<{ items?: KubeObject[] }>({
        method: "GET",
        path: resourcePath(CONFIG_MAPS, namespace),
        query: { labelSelector: selector(ownLabels(workspaceId)) },
        signal,
      });
      const marks = (list.items ?? []).map((cm) =>
        cm.metadata?.name === STREAM_MARK_CONFIG_MAP
          ? parseMark((cm as { data?: Record<string, string> }).data?.mark)
          : parseMark(cm.metadata?.annotations?.[ANNOTATION_STREAM_MARK]),
      );
      return newestMark(marks, stream);
    },
    async save(mark: ReplayMark, signal?: AbortSignal): Promise<void> {
      const labels = { ...ownLabels(workspaceId), [LABEL_COMPONENT]: COMPONENT_WORKSPACE_AGENT };
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
