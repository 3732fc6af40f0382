// How the agent and the workspace agent take a workspace apart without losing Flink state
// (docs/decisions.md, "Deletion that never loses state"). The agent marks the workspace credential
// Secret (the one object the workspace agent already watches) with ANNOTATION_WORKSPACE_DELETING;
// the workspace agent then takes every deployment it holds through its own delete path
// (stop-with-savepoint where the upgrade mode asks for state). The agent deletes the namespace only
// once no Flink ConfigMap of the workspace agent is left in it, or when an operator has set
// ANNOTATION_FORCE_DELETE=true on the namespace (or on a deployment's ConfigMap, which forces that
// one deployment). The lifecycle state each deployment persists on its ConfigMap
// (ANNOTATION_LIFECYCLE_STATE, JSON) is what the agent reads to report progress and final savepoints.

/** On the workspace credential Secret: the workspace is being deleted since this time (RFC 3339). */
export const ANNOTATION_WORKSPACE_DELETING = "meridian.dev/workspace-deleting";

/** On a workspace namespace or a deployment's ConfigMap: delete without waiting for a savepoint. */
export const ANNOTATION_FORCE_DELETE = "meridian.dev/force-delete";

/** On a deployment's ConfigMap: its persisted lifecycle state (JSON). */
export const ANNOTATION_LIFECYCLE_STATE = "meridian.dev/lifecycle-state";
