// Building blocks of the catalogue's inputs: valid specs to bend, and SSE events written field by
// field (so an entry can break exactly one thing about the framing and keep the rest valid).
import type { Step } from "../server.ts";
import type { StreamContext } from "./types.ts";

/** A workspace the agent's test policy (support.ts POLICY) would apply as it is. */
export const workspace = (id: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  id,
  generation: 1,
  quota: { cpu: "1", memory: "1Gi" },
  ...extra,
});

/** A workspace the schema refuses for one field only: quota.cpu "lots". */
export const badWorkspace = (id: string): Record<string, unknown> =>
  workspace(id, { quota: { cpu: "lots", memory: "1Gi" } });

/** The reason a bad workspace is refused with; proves the event was framed and parsed as sent. */
export const BAD_QUOTA = /workspace\.quota\.cpu: must be a Kubernetes quantity/;

/** A Flink deployment the workspace agent's test policy allows; its pods run without a process. */
export const deployment = (name: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  name,
  generation: 1,
  image: "registry.meridian.test/flink-simulated:2.3.0",
  job: { jarURI: "local:///opt/flink/usrlib/job.jar", entryClass: "org.example.Job" },
  parallelism: 1,
  jobManager: { resources: { cpu: "100m", memory: "256Mi" } },
  taskManager: { resources: { cpu: "100m", memory: "256Mi" }, taskSlots: 1 },
  state: "RUNNING",
  upgradeMode: "STATELESS",
  ...extra,
});

/** One SSE event from its lines, each ended with `eol`, and a blank line. */
export function lines(fields: string[], eol = "\n"): string {
  return `${fields.map((f) => f + eol).join("")}${eol}`;
}

/** `workspace.upsert` of `spec` with a fresh id. */
export const upsert = (ctx: StreamContext, spec: unknown): Step[] => [
  lines([`id: ${ctx.next()}`, "event: workspace.upsert", `data: ${JSON.stringify({ workspace: spec })}`]),
];

/** `deployment.upsert` of `spec` with a fresh id. */
export const deploymentUpsert = (ctx: StreamContext, spec: unknown): Step[] => [
  lines([`id: ${ctx.next()}`, "event: deployment.upsert", `data: ${JSON.stringify({ deployment: spec })}`]),
];

/** An event of `type` whose data is `data` as written (not re-encoded), with a fresh id. */
export const rawEvent = (ctx: StreamContext, type: string, data: string): Step[] => [
  lines([`id: ${ctx.next()}`, `event: ${type}`, `data: ${data}`]),
];

/** The agent stream's snapshot listing the good workspaces and `extra`, with a fresh id. */
export const agentSnapshot = (ctx: StreamContext, extra: unknown[], id = ctx.next()): Step[] => [
  lines([
    `id: ${id}`,
    "event: snapshot",
    `data: ${JSON.stringify({ workspaces: [...ctx.listed, ...extra] })}`,
  ]),
];

/** A workspace stream's snapshot listing the good deployments and `extra`, with a fresh id. */
export const workspaceSnapshot = (ctx: StreamContext, extra: unknown[]): Step[] => [
  lines([
    `id: ${ctx.next()}`,
    "event: snapshot",
    `data: ${JSON.stringify({ workspaceId: ctx.workspaceId, deployments: [...ctx.listed, ...extra] })}`,
  ]),
];

/** `"x"` nested `depth` arrays deep: `[[["x"]]]`. */
export const nested = (depth: number): string => `${"[".repeat(depth)}"x"${"]".repeat(depth)}`;

/** The id before `last` (decimal strings of any length). */
export const before = (last: string): string => (BigInt(last) - 1n).toString();
