// Hostile Flink deployment specs on a workspace stream, against the workspace agent: sizes that are
// no number or out of range, memory that is no quantity, job jars dressed up as paths inside the
// image or as the allowed bucket, entry classes and arguments that would smuggle options, unknown
// modes and states, generations JavaScript bends, images from elsewhere, snapshots that list too
// much or twice. The workspace agent's test policy allows the registries docker.io/library/flink and
// registry.meridian.test and the jar location s3://jobs-bucket/releases.
import { MAX_DEPLOYMENTS } from "@meridian/shared/protocol/limits";
import { deployment, deploymentUpsert, lines, rawEvent, workspaceSnapshot } from "./bytes.ts";
import type { StreamInput } from "./types.ts";

export const JAR_POLICY = ["s3://jobs-bucket/releases"];

const INVALID = (field: string) =>
  new RegExp(`^event "deployment\\.upsert" is invalid: deployment\\.${field}: `);

const entry = (e: Omit<StreamInput, "class" | "stream">): StreamInput => ({
  ...e,
  class: "deployment",
  stream: "workspace",
});

/** A deployment refused by the schema for `field`. */
const invalid = (name: string, what: string, extra: Record<string, unknown>, field: string) =>
  entry({
    name,
    what,
    bytes: (c) => deploymentUpsert(c, deployment("bad", extra)),
    expect: { kind: "refused", reason: INVALID(field) },
  });

/** A valid deployment the workspace agent's local policy refuses, named after the entry. */
const refusedBy = (name: string, what: string, extra: Record<string, unknown>, reason: RegExp) =>
  entry({
    name,
    what,
    bytes: (c) => deploymentUpsert(c, deployment(name, extra)),
    expect: { kind: "spec-refused", deployment: name, reason },
  });
const jar = (name: string, what: string, jarURI: string, reason: RegExp) =>
  refusedBy(name, what, { job: { jarURI, entryClass: "org.example.Job" } }, reason);
const job = (extra: Record<string, unknown>) => ({
  job: { jarURI: "local:///opt/flink/usrlib/job.jar", entryClass: "org.example.Job", ...extra },
});
const tm = (extra: Record<string, unknown>) => ({
  taskManager: { resources: { cpu: "100m", memory: "256Mi" }, taskSlots: 1, ...extra },
});
const jmMemory = (memory: string) => ({ jobManager: { resources: { cpu: "100m", memory } } });

export const deployments: StreamInput[] = [
  invalid("parallelism-zero", "parallelism 0", { parallelism: 0 }, "parallelism"),
  invalid("parallelism-negative", "parallelism -4", { parallelism: -4 }, "parallelism"),
  invalid("parallelism-huge", "parallelism 1,000,000", { parallelism: 1_000_000 }, "parallelism"),
  invalid("parallelism-fraction", "parallelism 1.5", { parallelism: 1.5 }, "parallelism"),
  invalid("parallelism-string", 'parallelism "2"', { parallelism: "2" }, "parallelism"),
  invalid("task-slots-zero", "taskManager.taskSlots 0", tm({ taskSlots: 0 }), "taskManager\\.taskSlots"),
  invalid("task-slots-huge", "taskManager.taskSlots 65", tm({ taskSlots: 65 }), "taskManager\\.taskSlots"),
  invalid("replicas-zero", "taskManager.replicas 0", tm({ replicas: 0 }), "taskManager\\.replicas"),
  invalid("replicas-huge", "taskManager.replicas 257", tm({ replicas: 257 }), "taskManager\\.replicas"),
  invalid("memory-gb", "JobManager memory `1GB`", jmMemory("1GB"), "jobManager\\.resources\\.memory"),
  invalid("memory-negative", "JobManager memory `-1Gi`", jmMemory("-1Gi"), "jobManager\\.resources\\.memory"),
  invalid("memory-empty", "JobManager memory ``", jmMemory(""), "jobManager\\.resources\\.memory"),
  invalid(
    "memory-two-dots",
    "JobManager memory `1.5.5Gi`",
    jmMemory("1.5.5Gi"),
    "jobManager\\.resources\\.memory",
  ),
  invalid(
    "cpu-words",
    "TaskManager cpu `1 core`",
    { taskManager: { resources: { cpu: "1 core", memory: "256Mi" }, taskSlots: 1 } },
    "taskManager\\.resources\\.cpu",
  ),
  invalid(
    "entry-class-space",
    "entryClass `org.example Job`",
    job({ entryClass: "org.example Job" }),
    "job\\.entryClass",
  ),
  invalid(
    "entry-class-newline",
    "entryClass with a line break and an option after it",
    job({ entryClass: "org.example.Job\n--fromSavepoint=/etc" }),
    "job\\.entryClass",
  ),
  invalid("entry-class-empty", "an empty entryClass", job({ entryClass: "" }), "job\\.entryClass"),
  invalid(
    "args-too-many",
    "257 job arguments",
    job({ args: Array.from({ length: 257 }, () => "a") }),
    "job\\.args",
  ),
  invalid(
    "arg-too-long",
    "one job argument of 4,097 characters",
    job({ args: ["a".repeat(4097)] }),
    "job\\.args\\.0",
  ),
  entry({
    name: "spec-over-limit",
    what: "200 job arguments of 1,000 characters: each within its limit, the spec past 128 KiB",
    bytes: (c) =>
      deploymentUpsert(
        c,
        deployment("bad", job({ args: Array.from({ length: 200 }, () => "a".repeat(1000)) })),
      ),
    expect: {
      kind: "refused",
      reason: /deployment: the spec takes \d+ bytes as JSON, more than the limit of 128 KiB/,
    },
  }),
  invalid("upgrade-mode-unknown", "upgradeMode `last-state`", { upgradeMode: "last-state" }, "upgradeMode"),
  invalid("upgrade-mode-lowercase", "upgradeMode `savepoint`", { upgradeMode: "savepoint" }, "upgradeMode"),
  invalid("state-unknown", "state `DELETED`", { state: "DELETED" }, "state"),
  invalid("restart-nonce-negative", "restartNonce -1", { restartNonce: -1 }, "restartNonce"),
  invalid("savepoint-nonce-fraction", "savepointNonce 0.5", { savepointNonce: 0.5 }, "savepointNonce"),
  invalid("generation-zero", "generation 0", { generation: 0 }, "generation"),
  invalid("generation-negative", "generation -1", { generation: -1 }, "generation"),
  invalid("generation-fraction", "generation 2.5", { generation: 2.5 }, "generation"),
  invalid("generation-unsafe", "generation 2^53 + 2", { generation: 2 ** 53 + 2 }, "generation"),
  invalid(
    "config-value-number",
    "a flinkConfiguration value that is a number",
    { flinkConfiguration: { "pipeline.name": 1 } },
    "flinkConfiguration\\.pipeline\\.name",
  ),
  invalid(
    "config-value-long",
    "a flinkConfiguration value of 8,193 characters",
    { flinkConfiguration: { "pipeline.name": "v".repeat(8193) } },
    "flinkConfiguration\\.pipeline\\.name",
  ),
  invalid(
    "config-too-many",
    "257 flinkConfiguration entries",
    { flinkConfiguration: Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`k.k${i}`, "v"])) },
    "flinkConfiguration",
  ),
  entry({
    name: "name-uppercase",
    what: "name `Orders`",
    bytes: (c) => deploymentUpsert(c, deployment("Orders")),
    expect: { kind: "refused", reason: INVALID("name") },
  }),
  entry({
    name: "name-leading-digit",
    what: "name `1orders` (its Service name must start with a letter)",
    bytes: (c) => deploymentUpsert(c, deployment("1orders")),
    expect: { kind: "refused", reason: INVALID("name") },
  }),
  entry({
    name: "name-41-chars",
    what: "a name of 41 characters (TaskManager pod names would pass 63)",
    bytes: (c) => deploymentUpsert(c, deployment(`o${"r".repeat(40)}`)),
    expect: { kind: "refused", reason: INVALID("name") },
  }),
  jar(
    "jar-encoded-dots",
    "local:// with %2e%2e segments",
    "local:///opt/flink/usrlib/%2e%2e/%2e%2e/etc/passwd",
    /'\.' or '\.\.' path segments/,
  ),
  jar(
    "jar-encoded-slash",
    "local:// with ..%2f inside a segment",
    "local:///opt/flink/usrlib/..%2f..%2fetc/passwd",
    /hide '\/'/,
  ),
  jar(
    "jar-local-host",
    "local://evil.example/…: a host where none belongs",
    "local://evil.example/opt/job.jar",
    /local:\/\/ takes an absolute path inside the image and no host/,
  ),
  jar(
    "jar-local-no-slashes",
    "local:/opt/job.jar",
    "local:/opt/job.jar",
    /local:\/\/ takes an absolute path/,
  ),
  jar(
    "jar-query",
    "a jar URI with a query",
    "local:///opt/flink/usrlib/job.jar?x=../../etc",
    /must not carry a query or a fragment/,
  ),
  jar(
    "jar-backslashes",
    "backslash traversal",
    "local:///opt\\..\\..\\etc\\passwd",
    /without spaces, control characters or backslashes/,
  ),
  jar("jar-nested-scheme", "jar:file:…!/", "jar:file:///opt/job.jar!/", /has scheme "jar:"/),
  jar(
    "jar-proc",
    "local:///proc/self/environ",
    "local:///proc/self/environ",
    /points into \/proc, \/sys or \/dev/,
  ),
  jar(
    "jar-decimal-ip",
    "https://2852039166/ (169.254.169.254 as one number)",
    "https://2852039166/latest/job.jar",
    /points at 169\.254\.169\.254/,
  ),
  jar("jar-ipv6-loopback", "https://[::1]/job.jar", "https://[::1]/job.jar", /points at ::1/),
  jar(
    "jar-bucket-suffix",
    "s3://jobs-bucket.evil/…, a bucket that starts like the allowed one",
    "s3://jobs-bucket.evil/releases/job.jar",
    /not under an allowed jar location \(allowedJarURIs: s3:\/\/jobs-bucket\/releases\)/,
  ),
  jar(
    "jar-prefix-sibling",
    "s3://jobs-bucket/releases-evil/…, a path that starts like the allowed one",
    "s3://jobs-bucket/releases-evil/job.jar",
    /not under an allowed jar location \(allowedJarURIs: s3:\/\/jobs-bucket\/releases\)/,
  ),
  jar(
    "jar-bucket-dots",
    "s3://jobs-bucket/releases/../private/…",
    "s3://jobs-bucket/releases/../private/job.jar",
    /'\.' or '\.\.' path segments/,
  ),
  jar(
    "jar-user-info",
    "s3://jobs-bucket@evil.example/releases/…",
    "s3://jobs-bucket@evil.example/releases/job.jar",
    /must not carry user information/,
  ),
  refusedBy(
    "img-registry-suffix",
    "an image on registry.meridian.test.evil.example",
    { image: "registry.meridian.test.evil.example/flink:2.3.0" },
    /not from an allowed registry|is not allowed/,
  ),
  refusedBy(
    "img-hub-lookalike",
    "docker.io/library/flink-evil, a repository that starts like flink",
    { image: "docker.io/library/flink-evil:2.3.0" },
    /not from an allowed registry|is not allowed/,
  ),
  invalid(
    "img-dot-segments",
    "docker.io/library/flink/../../evil/x",
    { image: "docker.io/library/flink/../../evil/x:1" },
    "image",
  ),
  entry({
    name: "delete-empty-name",
    what: "a delete with an empty name",
    bytes: (c) => rawEvent(c, "deployment.delete", '{"name":""}'),
    expect: { kind: "refused", reason: /^event "deployment\.delete" is invalid: name: / },
  }),
  entry({
    name: "delete-generation-negative",
    what: "a delete naming generation -1",
    bytes: (c) => rawEvent(c, "deployment.delete", '{"name":"good","generation":-1}'),
    expect: { kind: "refused", reason: /^event "deployment\.delete" is invalid: generation: / },
  }),
  entry({
    name: "snapshot-too-many",
    what: `a snapshot of ${MAX_DEPLOYMENTS + 1} deployments`,
    bytes: (c) => [
      lines([
        `id: ${c.next()}`,
        "event: snapshot",
        `data: ${JSON.stringify({ workspaceId: c.workspaceId, deployments: Array.from({ length: MAX_DEPLOYMENTS + 1 }, (_, i) => ({ name: `d${i}` })) })}`,
      ]),
    ],
    expect: { kind: "refused", reason: /^event "snapshot" is invalid: deployments: / },
  }),
  entry({
    name: "snapshot-twins",
    what: "a snapshot listing deployment twin twice with different parallelism",
    bytes: (c) => workspaceSnapshot(c, [deployment("twin"), deployment("twin", { parallelism: 2 })]),
    expect: { kind: "refused", count: 2, item: "twin", reason: /name "twin" is listed 2 times/ },
  }),
  entry({
    name: "snapshot-without-workspace",
    what: "a workspace snapshot without its workspaceId",
    bytes: (c) => rawEvent(c, "snapshot", JSON.stringify({ deployments: c.listed })),
    expect: { kind: "refused", reason: /^event "snapshot" is invalid: workspaceId: / },
  }),
  entry({
    name: "snapshot-other-workspace",
    what: "a snapshot addressed to another workspace, listing none of this one's deployments",
    bytes: (c) => rawEvent(c, "snapshot", JSON.stringify({ workspaceId: "someone-else", deployments: [] })),
    expect: { kind: "refused", reason: /^snapshot is for workspace "someone-else", not / },
  }),
  entry({
    name: "agent-event-on-workspace-stream",
    what: "a workspace.upsert (an agent-stream event) on the workspace stream",
    bytes: (c) => rawEvent(c, "workspace.upsert", '{"workspace":{"id":"w","generation":1}}'),
    expect: { kind: "refused", reason: /^unknown event type "workspace\.upsert"/ },
  }),
];
