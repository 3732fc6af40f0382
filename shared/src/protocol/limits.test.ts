import assert from "node:assert/strict";
import { test } from "node:test";
import { workspaceCredential } from "./credentials.ts";
import { deploymentSpecInput } from "./deployment-spec.testutil.ts";
import { agentEvents, parseEvent, workspaceEvents } from "./events.ts";
import {
  formatBytes,
  jsonDepthError,
  MAX_CONFIG_ENTRIES,
  MAX_CONFIG_VALUE_LENGTH,
  MAX_DISPLAY_NAME_LENGTH,
  MAX_IMAGE_LENGTH,
  MAX_JOB_ARGS,
  MAX_QUANTITY_LENGTH,
  MAX_SNAPSHOT_BYTES,
  MAX_WORKSPACE_POD_TEMPLATE_BYTES,
  MAX_WORKSPACES,
  maxEventBytes,
} from "./limits.ts";

const dep = deploymentSpecInput({ image: "flink:2.1" });
const upsert = (d: object) =>
  parseEvent(workspaceEvents, "deployment.upsert", "1", JSON.stringify({ deployment: { ...dep, ...d } }));
const errorOf = (r: { ok: boolean; error?: string }) => (r.ok ? "" : (r.error ?? ""));

/** A workspace with every string at its limit: the largest a snapshot entry can be. */
function largestWorkspace(i: number) {
  const q = "9".repeat(MAX_QUANTITY_LENGTH);
  return {
    id: `w${String(i).padStart(39, "0")}`,
    generation: 1,
    displayName: "d".repeat(MAX_DISPLAY_NAME_LENGTH),
    quota: { cpu: q, memory: q, pods: 1000 },
    workspaceAgent: {
      image: "i".repeat(MAX_IMAGE_LENGTH),
      resources: { requests: { cpu: q, memory: q }, limits: { cpu: q, memory: q } },
      logLevel: "debug",
    },
  };
}

test("a snapshot of 1,000 workspaces with every field at its limit fits the snapshot limit", () => {
  const text = JSON.stringify({ workspaces: Array.from({ length: 1000 }, (_, i) => largestWorkspace(i)) });
  assert.ok(Buffer.byteLength(text) < MAX_SNAPSHOT_BYTES / 4, `${Buffer.byteLength(text)} bytes`);
  assert.ok(parseEvent(agentEvents, "snapshot", "1", text).ok);
  assert.equal(maxEventBytes("snapshot"), MAX_SNAPSHOT_BYTES);
  assert.equal(formatBytes(maxEventBytes("workspace.upsert")), "1 MiB");
});

test("more workspaces than the limit in one snapshot are refused, naming the field", () => {
  const ws = largestWorkspace(0);
  const text = JSON.stringify({ workspaces: Array.from({ length: MAX_WORKSPACES + 1 }, () => ws) });
  assert.match(errorOf(parseEvent(agentEvents, "snapshot", "1", text)), /workspaces: .*5000/);
});

test("over-long strings, too many args and too many configuration entries are refused by name", () => {
  assert.match(errorOf(upsert({ image: "x".repeat(MAX_IMAGE_LENGTH + 1) })), /deployment\.image/);
  const job = { ...dep.job, args: Array.from({ length: MAX_JOB_ARGS + 1 }, () => "a") };
  assert.match(errorOf(upsert({ job })), /deployment\.job\.args/);
  const many = Object.fromEntries(Array.from({ length: MAX_CONFIG_ENTRIES + 1 }, (_, i) => [`k${i}`, "v"]));
  assert.match(errorOf(upsert({ flinkConfiguration: many })), /flinkConfiguration: must have at most 256/);
  const long = { "taskmanager.x": "v".repeat(MAX_CONFIG_VALUE_LENGTH + 1) };
  assert.match(errorOf(upsert({ flinkConfiguration: long })), /deployment\.flinkConfiguration/);
  const atLimit = Object.fromEntries(Array.from({ length: MAX_CONFIG_ENTRIES }, (_, i) => [`k.k${i}`, "v"]));
  assert.ok(upsert({ flinkConfiguration: atLimit }).ok);
  const ws = { ...largestWorkspace(0), displayName: "d".repeat(MAX_DISPLAY_NAME_LENGTH + 1) };
  const r = parseEvent(agentEvents, "workspace.upsert", "1", JSON.stringify({ workspace: ws }));
  assert.match(errorOf(r), /workspace\.displayName/);
  const del = parseEvent(agentEvents, "workspace.delete", "1", JSON.stringify({ id: "x".repeat(300) }));
  assert.match(errorOf(del), /^event "workspace.delete" is invalid: id:/);
});

test("a workspace's default pod template larger than its limit is refused, naming the field", () => {
  const template = (n: number) => ({
    spec: { containers: [{ name: "flink-main-container", env: [{ name: "BIG", value: "x".repeat(n) }] }] },
  });
  const upsert = (n: number) =>
    parseEvent(
      agentEvents,
      "workspace.upsert",
      "1",
      JSON.stringify({ workspace: { ...largestWorkspace(0), flinkPodTemplate: template(n) } }),
    );
  assert.ok(upsert(4000).ok);
  const tooBig = {
    spec: {
      containers: Array.from({ length: 3 }, (_, i) => ({
        ...template(4000).spec.containers[0],
        name: `c${i}`,
      })),
    },
  };
  const r = parseEvent(
    agentEvents,
    "workspace.upsert",
    "1",
    JSON.stringify({ workspace: { ...largestWorkspace(0), flinkPodTemplate: tooBig } }),
  );
  assert.match(
    errorOf(r),
    new RegExp(
      `workspace\\.flinkPodTemplate: takes \\d+ bytes as JSON, more than the limit of ${formatBytes(MAX_WORKSPACE_POD_TEMPLATE_BYTES)}`,
    ),
  );
});

test("a credential answer with an enormous token is refused", () => {
  const ok = { workspaceId: "w", token: "t".repeat(64), expiresAt: new Date().toISOString() };
  assert.ok(workspaceCredential.safeParse(ok).success);
  assert.equal(workspaceCredential.safeParse({ ...ok, token: "t".repeat(5000) }).success, false);
});

test("nesting depth is measured outside strings only", () => {
  assert.equal(jsonDepthError(JSON.stringify({ a: [{ b: { c: [1] } }] })), undefined);
  assert.equal(jsonDepthError(JSON.stringify({ s: "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[" })), undefined);
  assert.equal(jsonDepthError(JSON.stringify({ s: '\\"[[[[' })), undefined);
  assert.match(jsonDepthError(`${"[".repeat(33)}${"]".repeat(33)}`) ?? "", /deeper than the limit of 32/);
  assert.equal(jsonDepthError(`${"[".repeat(32)}${"]".repeat(32)}`), undefined);
});
