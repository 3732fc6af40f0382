// An agent's status at the scale the protocol is built for reaches the control plane. Found by the
// soak (docs/performance.md, "Soak"): 1,000 workspaces, ~200 of them being deleted, make a status
// document of more than 1 MiB (about 0.9 KB per workspace, 1.1 KB while deleting), which the
// reference control plane refused as a request body over its 1 MiB limit; the agent retried the same
// oversized document, and the status the control plane held stayed frozen from then on. Status
// bodies now have their own limit, MAX_STATUS_BYTES, sized like a snapshot's for MAX_WORKSPACES.
import assert from "node:assert/strict";
import { once } from "node:events";
import { after, before, test } from "node:test";
import { agentStatusReporter } from "@meridian/shared/controlplane/index";
import { MAX_STATUS_BYTES, PROTOCOL_HEADER, PROTOCOL_VERSION, paths } from "@meridian/shared/protocol/index";
import { buildAgentStatus } from "../../agent/src/outbound.ts";
import { ConditionBook, type WorkspaceView, workspaceStatus } from "../../agent/src/workspace/status.ts";
import { type Harness, startHarness } from "./support.ts";

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.cleanup());

const agent = (id: string) => ({
  id,
  version: "0.1.0",
  identity: "pod-1",
  leader: "pod-1",
  kubernetesVersion: "v1.35.4",
  startedAt: "2026-01-01T00:00:00.000Z",
});

/** `live` workspaces waiting for their workspace agent and `deleting` ones, as the agent builds them. */
function agentStatus(id: string, live: number, deleting: number) {
  const book = new ConditionBook();
  const now = new Date().toISOString();
  const view = (n: number, isDeleting: boolean): WorkspaceView => ({
    id: `soak-${n}`,
    namespace: `mw-soak-${n}`,
    observedGeneration: 3,
    aligned: !isDeleting,
    deploymentReady: false,
    deleting: isDeleting,
    deleted: false,
    ...(isDeleting ? { drain: { pending: [], finalState: {}, forced: false } } : {}),
  });
  const workspaces = Array.from({ length: live + deleting }, (_, n) =>
    workspaceStatus(view(n, n >= live), book, now),
  );
  return buildAgentStatus({ agent: agent(id), lastEventId: "1400", rejectedEvents: { count: 0 }, workspaces })
    .status;
}

test("the status of 1,000 workspaces with 200 being deleted (over 1 MiB) is accepted and stored", async (t) => {
  const { token } = await h.cp.admin.createAgent("size-1000");
  const status = agentStatus("size-1000", 1000, 200);
  const bytes = Buffer.byteLength(JSON.stringify(status));
  assert.ok(bytes > 1024 * 1024, `the document is ${bytes} bytes, meant to be over 1 MiB`);
  const r = agentStatusReporter(h.endpoint(token), "size-1000", { debounceMs: 10 });
  t.after(() => r.stop());
  const failed: string[] = [];
  r.on("failed", (e) => failed.push(e.reason));
  r.set(status);
  const [outcome] = await Promise.race([
    once(r, "sent").then(() => ["sent"]),
    once(r, "failed").then(([e]) => [`failed: ${(e as { reason: string }).reason}`]),
  ]);
  assert.equal(outcome, "sent", `a ${bytes}-byte status`);
  const stored = await h.cp.admin.getAgentStatus("size-1000");
  assert.equal(stored?.workspaces.length, 1200);
  assert.equal(stored?.workspaces.filter((w) => w.phase === "Deleting").length, 200);
});

test("a status body over MAX_STATUS_BYTES is refused with a reason naming the limit", async () => {
  const { token } = await h.cp.admin.createAgent("size-over");
  const body = JSON.stringify({ pad: "x".repeat(MAX_STATUS_BYTES) });
  const res = await fetch(h.cp.url + paths.agentStatus("size-over"), {
    method: "POST",
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
      [PROTOCOL_HEADER]: PROTOCOL_VERSION,
    },
    body,
  });
  assert.equal(res.status, 400);
  assert.match(await res.text(), new RegExp(`larger than ${MAX_STATUS_BYTES} bytes`));
  assert.equal(await h.cp.admin.getAgentStatus("size-over"), null);
});
