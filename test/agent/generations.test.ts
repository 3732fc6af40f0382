// Issue 15, defects 3 and 4, on the real cluster with the reference control plane's inject-event
// fault: generations only move forward (a stale spec is refused, also after a restart and against a
// control plane that lost its data), and one invalid snapshot item is refused alone, keeps what runs
// and is never orphaned, while the rest of the snapshot applies. Control-plane epochs (decisions.md
// 42): a control plane that lost its data continues in a new epoch, which takes a workspace over
// unchanged (not orphaned, nothing rewritten but the namespace's record) and never rolls one back.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { KubeObject } from "@meridian/shared/kube/resources";
import type { WorkspaceSpecInput, WorkspaceStatus } from "@meridian/shared/protocol/index";
import type { AgentHandle } from "../../agent/src/agent.ts";
import { type Harness, startHarness, waitFor } from "./harness.ts";

let h: Harness;
let agent: AgentHandle;
let policyFile: string;

before(async () => {
  h = await startHarness();
  policyFile = await h.writePolicy({
    namespacePrefix: "mw-",
    allowedRegistries: { workspaceAgent: ["ghcr.io/meridian-dev"], flink: ["docker.io/library/flink"] },
    orphanGracePeriodSeconds: 3600,
  });
  agent = await h.startAgent({ policyFile });
});
after(() => h?.stop());

// biome-ignore lint/suspicious/noExplicitAny: tests read nested fields freely
type Loose = KubeObject & Record<string, any>;
const get = (path: string) => h.admin.getOrUndefined<Loose>(path);
const nsPath = (id: string) => `/api/v1/namespaces/mw-${id}`;
const quotaPath = (id: string) => `/api/v1/namespaces/mw-${id}/resourcequotas/meridian-workspace-quota`;
const ORPHANED = "meridian.dev/orphaned-since";

async function statusOf(id: string): Promise<WorkspaceStatus | undefined> {
  return (await h.cp.admin.getAgentStatus(h.agentId))?.workspaces.find((w) => w.id === id);
}
const cond = (w: WorkspaceStatus | undefined, type: string) => w?.conditions.find((c) => c.type === type);
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rejections = async () => (await h.cp.admin.getAgentStatus(h.agentId))?.rejectedEvents.count ?? 0;
/** Waits for status to report a rejection after `since` whose reason matches `re`. */
const reportedRejection = (since: string, re: RegExp) =>
  waitFor(`a rejection ${re} in rejectedEvents`, async () => {
    const last = (await h.cp.admin.getAgentStatus(h.agentId))?.rejectedEvents.last;
    return last && last.at >= since && re.test(last.error) ? last : undefined;
  });

async function idle(): Promise<void> {
  await waitFor("the agent to lead", () => agent.controller()?.snapshotSeen);
  await agent.controller()?.idle();
}

/** What must not change: each object's resourceVersion and the quota's spec. */
async function fingerprint(id: string) {
  const ns = await get(nsPath(id));
  const quota = await get(quotaPath(id));
  return {
    ns: ns?.metadata?.resourceVersion,
    orphaned: ns?.metadata?.annotations?.[ORPHANED],
    quota: quota?.metadata?.resourceVersion,
    hard: quota?.spec.hard,
  };
}

/** The epoch of the reference control plane's database, read from a spec it stored. */
let epoch: number | undefined;
const spec = (id: string, generation: number, cpu: string): WorkspaceSpecInput => ({
  id,
  generation,
  epoch,
  quota: { cpu, memory: "1Gi" },
});

/** Sends an event on the agent's stream and waits until the agent has processed it and is idle. */
async function inject(type: string, data: unknown): Promise<void> {
  const r = await h.cp.admin.faults.injectEvent("agent", h.agentId, type, JSON.stringify(data));
  const id = BigInt(String(r.eventId));
  await waitFor(`event ${id} processed`, async () => {
    const last = (await h.cp.admin.getAgentStatus(h.agentId))?.lastEventId;
    return last !== undefined && BigInt(last) >= id;
  });
  await idle();
}
const injectUpsert = (id: string, generation: number, cpu: string) =>
  inject("workspace.upsert", { workspace: spec(id, generation, cpu) });

/** Waits for workspace `id` to report a SpecRejected condition whose message matches `re`. */
async function rejected(id: string, re: RegExp): Promise<WorkspaceStatus> {
  return waitFor(`${id} reported SpecRejected ${re}`, async () => {
    const w = await statusOf(id);
    return re.test(cond(w, "SpecRejected")?.message ?? "") ? w : undefined;
  });
}

test("a spec older than the generation applied is refused: nothing changes, observedGeneration holds", async () => {
  for (const cpu of ["1", "2", "3", "4", "5"])
    await h.cp.admin.putWorkspace(h.agentId, "gen", { quota: { cpu, memory: "1Gi" } });
  await waitFor("generation 5 applied", async () => {
    const w = await statusOf("gen");
    return w?.observedGeneration === 5 && cond(w, "SpecAligned")?.status === "True";
  });
  await idle();
  epoch = (await h.cp.admin.getWorkspaceSpec(h.agentId, "gen")).epoch;
  assert.ok(epoch, "the reference control plane names its epoch");
  const held = await fingerprint("gen");
  assert.equal(held.hard?.["requests.cpu"], "5");
  assert.equal((await get(nsPath("gen")))?.metadata?.annotations?.["meridian.dev/generation"], "5");
  assert.equal((await get(nsPath("gen")))?.metadata?.annotations?.["meridian.dev/epoch"], String(epoch));
  const count = await rejections();

  await injectUpsert("gen", 4, "4");
  assert.deepEqual(await fingerprint("gen"), held, "the cluster is exactly as generation 5 left it");
  const w = await rejected("gen", /generation 4 is older than generation 5/);
  assert.equal(w.observedGeneration, 5, "observedGeneration never goes back");
  assert.equal(cond(w, "SpecRejected")?.reason, "StaleGeneration");
  assert.notEqual(w.phase, "Refused", "generation 5 is still held and applied");
  await waitFor("the refusal counted in rejectedEvents", async () => (await rejections()) > count);
  const last = (await h.cp.admin.getAgentStatus(h.agentId))?.rejectedEvents.last;
  assert.equal(last?.eventType, "workspace.upsert");
  assert.match(last?.error ?? "", /workspace gen: spec generation 4 is older than generation 5/);

  // A delete that names an older generation is refused too.
  await inject("workspace.delete", { id: "gen", generation: 3, epoch });
  assert.deepEqual(await fingerprint("gen"), held, "not deleted");
  await rejected("gen", /delete of generation 3 is older than generation 5/);
});

test("after a restart the stale spec is still refused", async () => {
  await agent.stop();
  agent = await h.startAgent({ policyFile });
  await idle();
  const held = await fingerprint("gen");
  const since = new Date().toISOString();
  await injectUpsert("gen", 4, "4");
  assert.deepEqual(await fingerprint("gen"), held);
  const w = await rejected("gen", /generation 4 is older than generation 5/);
  assert.equal(w.observedGeneration, 5);
  await reportedRejection(since, /workspace gen: spec generation 4 is older than generation 5/);
});

test("one invalid workspace in a snapshot is refused alone: the others apply and it is not orphaned", async () => {
  await h.cp.admin.putWorkspace(h.agentId, "snap-a", { quota: { cpu: "1", memory: "1Gi" } });
  await h.cp.admin.putWorkspace(h.agentId, "snap-b", { quota: { cpu: "1", memory: "1Gi" } });
  await waitFor("snap-a and snap-b applied", async () => {
    const a = await statusOf("snap-a");
    const b = await statusOf("snap-b");
    return cond(a, "SpecAligned")?.status === "True" && cond(b, "SpecAligned")?.status === "True";
  });
  await idle();
  const b = await fingerprint("snap-b");
  const count = await rejections();
  // Everything the agent holds, with snap-a changed, snap-b invalid and snap-c new.
  const workspaces = [
    spec("gen", 5, "5"),
    spec("snap-a", 2, "2"),
    { ...spec("snap-b", 2, "lots"), displayName: "broken" },
    spec("snap-c", 1, "1"),
  ];
  await inject("snapshot", { workspaces });
  assert.equal((await get(quotaPath("snap-a")))?.spec.hard["requests.cpu"], "2", "snap-a updated");
  assert.ok(await get(quotaPath("snap-c")), "snap-c created");
  assert.deepEqual(await fingerprint("snap-b"), b, "snap-b untouched, and not marked orphaned");
  const wb = await rejected("snap-b", /workspaces\.2\.quota\.cpu: must be a Kubernetes quantity/);
  assert.equal(cond(wb, "SpecRejected")?.reason, "InvalidSpec");
  assert.equal(wb.observedGeneration, 1, "its last good generation stays");
  assert.notEqual(wb.phase, "Orphaned");
  assert.equal(cond(wb, "Orphaned")?.status, "False");
  await waitFor("the invalid item counted", async () => (await rejections()) > count);
  assert.match(
    (await h.cp.admin.getAgentStatus(h.agentId))?.rejectedEvents.last?.error ?? "",
    /workspaces\.2\.quota\.cpu/,
  );
});

test("a snapshot item whose id cannot be read makes the snapshot orphan nothing", async () => {
  await idle();
  const listed = [spec("gen", 5, "5"), spec("snap-a", 2, "2"), spec("snap-b", 1, "1")];
  // snap-c is missing, but an item cannot be identified: it might be snap-c.
  const unreadable = { generation: 1, quota: { cpu: "1", memory: "1Gi" } };
  await inject("snapshot", { workspaces: [...listed, unreadable] });
  assert.ok(await get(nsPath("snap-c")));
  assert.equal((await fingerprint("snap-c")).orphaned, undefined, "snap-c is not orphaned");
  await waitFor("snap-b's rejection cleared by its valid item", async () => {
    const w = await statusOf("snap-b");
    return w && !cond(w, "SpecRejected");
  });
  // The same snapshot without the unreadable item does orphan it (the test can see orphaning).
  await inject("snapshot", { workspaces: listed });
  await waitFor("snap-c marked orphaned", async () => (await fingerprint("snap-c")).orphaned);
});

test("a control plane that lost its data and sends another spec as generation 1 of a new epoch is refused from the namespace's record", async () => {
  await agent.stop();
  const held = await fingerprint("gen");
  const cp = await h.replaceControlPlane();
  // The first request may meet a keep-alive socket of the control plane that was just replaced.
  await waitFor("gen stored again", async () => {
    await cp.admin.putWorkspace(h.agentId, "gen", { quota: { cpu: "1", memory: "1Gi" } });
    return true;
  });
  agent = await h.startAgent({ policyFile });
  await idle();
  await pause(1000);
  await idle();
  assert.deepEqual(await fingerprint("gen"), held, "generation 5's objects stay, and gen is not orphaned");
  const w = await rejected(
    "gen",
    /spec generation 1 of the control plane's new epoch \d+ is a different spec than generation 5 of epoch \d+.*never rolls it back/,
  );
  assert.equal(w.observedGeneration, 5, "the generation recorded on the namespace");
  assert.notEqual(w.phase, "Orphaned");
});

test("a restored control plane's unchanged workspace is taken over in its new epoch: not orphaned, not rewritten", async () => {
  await idle();
  const held = await fingerprint("gen");
  const oldEpoch = (await get(nsPath("gen")))?.metadata?.annotations?.["meridian.dev/epoch"];
  // The vendor lost everything again: the agent meets an empty control plane and orphans its workspaces.
  const cp = await h.replaceControlPlane();
  await waitFor("gen marked orphaned by the empty snapshot", async () => (await fingerprint("gen")).orphaned);
  // Then restores gen as it was when generation 5 was applied: generation 1 of the new epoch.
  await waitFor("gen restored", async () => {
    await cp.admin.putWorkspace(h.agentId, "gen", { quota: { cpu: "5", memory: "1Gi" } });
    return true;
  });
  const restored = await cp.admin.getWorkspaceSpec(h.agentId, "gen");
  assert.equal(restored.generation, 1);
  assert.ok(restored.epoch && String(restored.epoch) !== oldEpoch, "a new database is a new epoch");
  const w = await waitFor("gen aligned at generation 1 of the new epoch", async () => {
    const s = await statusOf("gen");
    return s?.observedGeneration === 1 && cond(s, "SpecAligned")?.status === "True" ? s : undefined;
  });
  assert.equal(cond(w, "SpecRejected"), undefined, "nothing refused");
  assert.notEqual(w.phase, "Orphaned");
  await idle();
  const now = await fingerprint("gen");
  assert.equal(now.orphaned, undefined, "the orphan mark is gone");
  assert.equal(now.quota, held.quota, "the quota was not rewritten");
  const annotations = (await get(nsPath("gen")))?.metadata?.annotations ?? {};
  assert.equal(annotations["meridian.dev/generation"], "1");
  assert.equal(annotations["meridian.dev/epoch"], String(restored.epoch));
  assert.ok(
    h.logs.some((l) => /the control plane's epoch changed from \d+ to \d+.*with the spec unchanged/.test(l)),
    "the epoch change is logged",
  );
});

test("within the new epoch generations still only move forward, and the old epoch stays refused", async () => {
  await h.cp.admin.putWorkspace(h.agentId, "gen", { quota: { cpu: "6", memory: "1Gi" } });
  await waitFor("generation 2 applied", async () => (await statusOf("gen"))?.observedGeneration === 2);
  await idle();
  epoch = (await h.cp.admin.getWorkspaceSpec(h.agentId, "gen")).epoch;
  const held = await fingerprint("gen");
  assert.equal(held.hard?.["requests.cpu"], "6");
  await injectUpsert("gen", 1, "7");
  assert.deepEqual(await fingerprint("gen"), held, "generation 1 of the same epoch is not applied");
  await rejected("gen", /spec generation 1 is older than generation 2, which the agent already holds/);
  // An epoch older than any the control plane used: a replay of its past. With signed events pinned
  // the signature check may refuse it first (decision 41), without advancing the resume id.
  await h.cp.admin.faults.injectEvent(
    "agent",
    h.agentId,
    "workspace.upsert",
    JSON.stringify({ workspace: { ...spec("gen", 9, "9"), epoch: 1 } }),
  );
  await rejected("gen", /from control-plane epoch 1, older than epoch \d+/);
  await idle();
  assert.deepEqual(await fingerprint("gen"), held, "an older epoch is not applied, whatever its generation");
});
