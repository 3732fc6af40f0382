// What a reconcile tells people when a workspace cannot be applied: one Warning log line per
// distinct refusal or set of conflicts (not one per resync), and a Warning Event on the workspace's
// namespace when that namespace exists and is Meridian's (never on anyone else's object). A new
// workspace has nowhere to hold an Event: the log line and the status say it.
import type { SignatureRefusal } from "@meridian/shared/controlplane/verify";
import type { EventRecorder } from "@meridian/shared/kube/events";
import { NAMESPACES } from "@meridian/shared/kube/resources";
import { F, type Logger } from "@meridian/shared/log";
import type { OwnedCaches } from "../caches.ts";
import { namespaceName } from "./objects.ts";
import type { WorkspaceRecord } from "./record.ts";

export interface NoticeDeps {
  caches: OwnedCaches;
  recorder: EventRecorder;
  namespacePrefix: string;
}

/** The workspace's spec was refused by the local policy (`r.violations`). */
export function noticeRefusal(
  d: NoticeDeps,
  id: string,
  generation: number,
  r: WorkspaceRecord,
  /** The run's logger (workspace and reconcile id bound). */
  log: Logger,
): void {
  const key = `${generation}:${r.violations?.join("; ")}`;
  if (r.loggedViolation === key) return;
  r.loggedViolation = key;
  log.warn(
    { [F.reason]: r.violations?.join("; "), [F.outcome]: "refused" },
    "workspace refused by the local policy; nothing applied",
  );
  const ns = d.caches.get(NAMESPACES, undefined, namespaceName(d.namespacePrefix, id));
  if (ns)
    void d.recorder.record(
      ns,
      "Warning",
      "PolicyViolation",
      `generation ${generation} refused by the local policy, nothing applied: ${r.violations?.join("; ")}`,
    );
}

/** Objects the workspace needs exist and are not Meridian's (`r.conflicts`). */
export function noticeConflict(d: NoticeDeps, id: string, r: WorkspaceRecord, log: Logger): void {
  const reason = r.conflicts?.join("; ") ?? "";
  if (r.loggedConflict === reason) return;
  r.loggedConflict = reason;
  log.warn(
    { [F.reason]: reason, [F.outcome]: "conflict" },
    "workspace refused: an object it needs exists and is not Meridian's; nothing written",
  );
  const ns = d.caches.get(NAMESPACES, undefined, namespaceName(d.namespacePrefix, id));
  if (ns) void d.recorder.record(ns, "Warning", "OwnershipConflict", reason);
}

/**
 * The stream refused an event or snapshot item for its signature (signed desired state): a Warning
 * Event with the signature's reason on the namespace of the workspace it names, when that exists
 * and is Meridian's. The stream's own log line and status report it in every case.
 */
export function noticeUnverified(d: NoticeDeps, refusal: SignatureRefusal): void {
  if (refusal.key === undefined) return;
  const ns = d.caches.get(NAMESPACES, undefined, namespaceName(d.namespacePrefix, refusal.key));
  if (ns) void d.recorder.record(ns, "Warning", refusal.reason, `${refusal.message}; nothing applied`);
}
