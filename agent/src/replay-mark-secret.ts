// Where the agent keeps the newest event it accepted on its signed stream (shared/src/controlplane/
// replay-mark.ts, docs/decisions.md 46): the annotation `meridian.dev/stream-mark` on its credential
// Secret (`<release>-credential`), the one object at home it may already write (RBAC get/create/patch
// on that name; the confinement policy lets it write that Secret and its Lease, nothing else). Every
// replica reads it, so a new leader refuses what the last one would have. Written with a JSON merge
// patch (an Update of the annotation only): the credential's server-side apply by the same field
// manager neither removes nor conflicts with it, and the mark never touches the credential's data.
import type { ReplayMark, ReplayMarkStore } from "@meridian/shared/controlplane/replay-mark";
import { ANNOTATION_STREAM_MARK, markText, parseMark } from "@meridian/shared/controlplane/replay-mark";
import { applyObject, getObject } from "@meridian/shared/kube/apply";
import type { KubeClient } from "@meridian/shared/kube/client";
import { isNotFound } from "@meridian/shared/kube/errors";
import { FIELD_MANAGER_AGENT, MANAGED_BY_AGENT, meridianLabels } from "@meridian/shared/kube/labels";
import { resourcePath, SECRETS } from "@meridian/shared/kube/resources";

export { ANNOTATION_STREAM_MARK };

/** The mark on the agent's credential Secret `name` in its namespace. */
export function secretReplayMarks(kube: KubeClient, namespace: string, name: string): ReplayMarkStore {
  const where = `Secret ${namespace}/${name}`;
  return {
    where,
    load: async () =>
      parseMark(
        (await getObject(kube, SECRETS, namespace, name))?.metadata?.annotations?.[ANNOTATION_STREAM_MARK],
      ),
    async save(mark: ReplayMark, signal?: AbortSignal): Promise<void> {
      const patch = () =>
        kube.request({
          method: "PATCH",
          path: resourcePath(SECRETS, namespace, name),
          query: { fieldManager: FIELD_MANAGER_AGENT },
          contentType: "application/merge-patch+json",
          body: { metadata: { annotations: { [ANNOTATION_STREAM_MARK]: markText(mark) } } },
          signal,
        });
      try {
        await patch();
        return;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      // No credential stored yet (a long-lived token): the Secret is made by the same apply the
      // credential's save makes (labels only; the RBAC rule's resourceNames allow no POST), then marked.
      const secret = {
        metadata: { name, namespace, labels: meridianLabels(MANAGED_BY_AGENT) },
        type: "Opaque",
      };
      await applyObject(kube, SECRETS, secret, { fieldManager: FIELD_MANAGER_AGENT, signal });
      await patch();
    },
  };
}
