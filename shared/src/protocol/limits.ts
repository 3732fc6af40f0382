// Every size limit of protocol v1, in one place: the schemas and the stream parser read them from
// here, and docs/protocol.md ("Limits") lists them. Bytes are UTF-8 bytes on the wire; lengths are
// string lengths (UTF-16 code units, as zod counts them).

const KiB = 1024;
const MiB = 1024 * KiB;

/** One SSE event other than a snapshot: its `data:` lines joined. Beyond it the event is discarded unread. */
export const MAX_EVENT_BYTES = 1 * MiB;
/**
 * One `snapshot` event (the whole desired state of a stream). Larger than a delta so that thousands
 * of workspaces fit: 1,000 workspaces with every field at its limit take 1.35 MB, 5,000 take 6.75 MB.
 */
export const MAX_SNAPSHOT_BYTES = 8 * MiB;
/** The largest event of any type; what the parser may hold before it knows an event's type. */
export const MAX_ANY_EVENT_BYTES = Math.max(MAX_EVENT_BYTES, MAX_SNAPSHOT_BYTES);
/** The byte limit of one event of `type`. */
export function maxEventBytes(type: string): number {
  return type === "snapshot" ? MAX_SNAPSHOT_BYTES : MAX_EVENT_BYTES;
}
/**
 * One status document (POST .../status) as a request body. An agent's status carries an entry per
 * workspace (about 0.9 KB, 1.1 KB while one is being deleted), so 1,000 workspaces took more than the
 * 1 MiB every other request body is held to, and the control plane refused the agent's status from
 * then on (found by the soak, decision 49). Sized like a snapshot, so MAX_WORKSPACES fit.
 */
export const MAX_STATUS_BYTES = 8 * MiB;
/** Every other request body sent to the control plane (admin and credential requests). */
export const MAX_REQUEST_BYTES = 1 * MiB;
/** A JSON answer of the control plane to a request (status POST, credential, error body). */
export const MAX_RESPONSE_BYTES = 64 * KiB;
/** Objects and arrays nested in one event's JSON (the protocol itself needs 6). */
export const MAX_JSON_DEPTH = 32;

/** Workspaces in one agent-stream snapshot. */
export const MAX_WORKSPACES = 5000;
/** Flink deployments in one workspace-stream snapshot. */
export const MAX_DEPLOYMENTS = 500;

/** A name or id that is not a DNS label of the spec itself (delete events, credential answers). */
export const MAX_NAME_LENGTH = 253;
/** `displayName` of a workspace. */
export const MAX_DISPLAY_NAME_LENGTH = 200;
/** A container image reference (registry/repository:tag@digest). */
export const MAX_IMAGE_LENGTH = 512;
/** A Kubernetes quantity such as `1536Mi`. */
export const MAX_QUANTITY_LENGTH = 64;
/** `job.jarURI`, `storage.baseURI`. */
export const MAX_URI_LENGTH = 2048;
/** An AWS IAM role ARN (`identity.awsRoleArn`): IAM's own limit. */
export const MAX_ROLE_ARN_LENGTH = 2048;
/** A Kubernetes object name that is a DNS subdomain (a Secret's, `storage.credentialsSecret`). */
export const MAX_OBJECT_NAME_LENGTH = 253;
/** `job.entryClass`, a fully qualified Java class name. */
export const MAX_CLASS_NAME_LENGTH = 512;
/** Entries of `job.args`, and the length of each. */
export const MAX_JOB_ARGS = 256;
export const MAX_JOB_ARG_LENGTH = 4096;
/** Entries of `flinkConfiguration`, and the length of each key and each value. */
export const MAX_CONFIG_ENTRIES = 256;
export const MAX_CONFIG_KEY_LENGTH = 256;
export const MAX_CONFIG_VALUE_LENGTH = 8192;
/** Entries of each list and map of a pod template (env, volumes, mounts, containers, labels, ...). */
export const MAX_POD_TEMPLATE_ENTRIES = 64;
/** A string of a pod template: a value, a path, a key, an annotation. */
export const MAX_POD_TEMPLATE_STRING_LENGTH = 4096;
/**
 * One Flink deployment spec as JSON (UTF-8 bytes, defaults included). The workspace agent keeps the
 * whole spec in the lifecycle-state annotation of the deployment's ConfigMap, with up to 11 savepoint
 * locations, and Kubernetes allows an object 256 KiB of annotations: beyond this the field limits above
 * add up to specs whose ConfigMap the API server refuses.
 */
export const MAX_DEPLOYMENT_SPEC_BYTES = 128 * KiB;
/**
 * A workspace's default pod template (`flinkPodTemplate`) as JSON: defaults are small (labels, a few
 * variables, a volume). It is merged into every deployment's spec, which the lifecycle state keeps (with
 * MAX_DEPLOYMENT_SPEC_BYTES and the savepoint locations, well under the 256 KiB of annotations), travels
 * in one environment variable of the workspace agent (Linux caps one at 128 KiB), and is part of every
 * snapshot entry of its workspace, which MAX_SNAPSHOT_BYTES bounds for all workspaces together.
 */
export const MAX_WORKSPACE_POD_TEMPLATE_BYTES = 8 * KiB;
/** A bearer token in a credential answer. */
export const MAX_TOKEN_LENGTH = 4096;
/** The message of an error body. */
export const MAX_ERROR_MESSAGE_LENGTH = 4096;
/** An event id: a decimal string (`rejectedEvents.last.eventId` keeps at most this much of a bad one). */
export const MAX_EVENT_ID_LENGTH = 40;

/**
 * Stream events an agent holds while it stores the newest accepted event before applying them
 * (MarkGate, docs/decisions.md 46): those that arrive during one write, and all of them while the
 * write keeps failing. Beyond it the stream is rewound to the last event held and redialled with its
 * normal back-off, so the control plane sends the rest again. A burst during one API round trip stays
 * far below it; each event is also within its own byte limit (MAX_EVENT_BYTES, MAX_SNAPSHOT_BYTES).
 */
export const MAX_HELD_STREAM_EVENTS = 256;

/** "1 MiB", "8 MiB", "64 KiB": how limits read in refusal reasons. */
export function formatBytes(n: number): string {
  if (n % MiB === 0) return `${n / MiB} MiB`;
  if (n % KiB === 0) return `${n / KiB} KiB`;
  return `${n} bytes`;
}

/**
 * Why a JSON text nests objects and arrays deeper than `max`, or undefined. One pass over the text,
 * skipping strings, before anything parses it.
 */
export function jsonDepthError(text: string, max = MAX_JSON_DEPTH): string | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return `JSON nests objects and arrays deeper than the limit of ${max}`;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return undefined;
}
