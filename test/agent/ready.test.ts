// With a node (the node simulator runs the workspace agent image as workspace-agent/src/main.ts), a
// workspace becomes Ready once its workspace agent's Deployment has a ready replica: the agent's
// objects, credential and environment are enough for the workspace agent to start and dial in.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { PROCESS_WORKSPACE_AGENT } from "@meridian/shared/process/identity";
import type { WorkspaceStatus } from "@meridian/shared/protocol/index";
import type { AgentHandle } from "../../agent/src/agent.ts";
import { NAMES } from "../../agent/src/workspace/objects.ts";
import { type Harness, startHarness, waitFor } from "./harness.ts";

let h: Harness;
let agent: AgentHandle;

before(async () => {
  // Short-lived credentials: refreshed when a third of the lifetime remains (every ~8 s here).
  h = await startHarness({ nodes: 1, tokenTtlSeconds: 12 });
  agent = await h.startAgent();
});
after(() => h?.stop());

const statusOf = async (id: string): Promise<WorkspaceStatus | undefined> =>
  (await h.cp.admin.getAgentStatus(h.agentId))?.workspaces.find((w) => w.id === id);

test("a workspace is Ready once its workspace agent runs and is ready", async () => {
  await h.cp.admin.putWorkspace(h.agentId, "live", { quota: { cpu: "4", memory: "8Gi" } });
  const ready = await waitFor(
    "Ready=True",
    async () => {
      const s = await statusOf("live");
      return s?.conditions.find((c) => c.type === "Ready")?.status === "True" ? s : undefined;
    },
    90_000,
  );
  assert.equal(ready?.phase, "Ready");
  assert.ok(agent.isLeader());
  // The workspace agent dialled its own stream with the credential the agent stored for it.
  await h.cp.admin.waitForStreams({ stream: "workspace", target: "live" }, 30_000);
});

test("the workspace agent's log lines name their process: component meridian-workspace-agent", async () => {
  const res = await h.cluster.kubectl(["logs", "-n", "mw-live", `deploy/${NAMES.deployment}`]);
  assert.equal(res.code, 0, res.stderr);
  const components = res.stdout
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => (JSON.parse(l) as { component?: unknown }).component);
  assert.ok(components.length > 0, "the workspace agent logged nothing");
  assert.deepEqual([...new Set(components)], [PROCESS_WORKSPACE_AGENT]);
});

test("the credential is refreshed before it expires, and the workspace agent stays connected", async () => {
  const path = "/api/v1/namespaces/mw-live/secrets/meridian-workspace-credential";
  const read = async () => {
    const s = await h.admin.getOrUndefined<{ data: Record<string, string> }>(path);
    const dec = (k: string) => Buffer.from(s?.data[k] ?? "", "base64").toString();
    return { token: dec("token"), expiresAt: Date.parse(dec("expiresAt")) };
  };
  const first = await read();
  h.tokens.add(first.token);
  const second = await waitFor(
    "a new credential",
    async () => {
      const c = await read();
      return c.token !== first.token ? c : undefined;
    },
    20_000,
  );
  h.tokens.add(second.token);
  assert.ok(Date.now() < first.expiresAt, "refreshed before the old one expired");
  assert.ok(second.expiresAt > first.expiresAt);
  const s = await statusOf("live");
  assert.equal(s?.conditions.find((c) => c.type === "SpecAligned")?.status, "True");
  assert.ok(agent.isLeader());
});
