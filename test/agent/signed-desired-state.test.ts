// Signed desired state (issue 14, deliverable 4) on the real cluster: the reference control plane
// signs every event, the agent pins its public key, and a tampering proxy on loopback between them
// (a compromised link) alters one field of a signed event, strips a signature, or answers a redial
// with an old, validly signed snapshot. Each is refused with its named reason, reported upward
// (rejectedEvents and the workspace's SpecRejected condition) with a Warning Event, and nothing in
// the cluster changes, while another workspace keeps converging. Key rotation: two keys pinned,
// events signed by either pass; an agent that pins only the new key refuses the old one. Replay after a
// restart: the newest accepted event is kept on the credential Secret, so a restarted agent still
// refuses an old snapshot (decision 46); a refused first snapshot is in the status (SnapshotAccepted).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { parseMark } from "@meridian/shared/controlplane/replay-mark";
import type { WorkspaceStatus } from "@meridian/shared/protocol/index";
import { publicKeyText } from "@meridian/shared/protocol/signing";
import type { AgentHandle } from "../../agent/src/agent.ts";
import { ANNOTATION_STREAM_MARK } from "../../agent/src/replay-mark-secret.ts";
import { TEST_SIGNING_KEY, TEST_SIGNING_PUBLIC_KEY, testSigningKey } from "../control-plane/signing.ts";
import {
  type PassingEvent,
  startTamperingProxy,
  type TamperingProxy,
} from "../control-plane/tampering-proxy.ts";
import { type Inventory, inventory } from "../hostile/inventory.ts";
import { installCredentialRole } from "./credential-role.ts";
import { type Harness, startHarness, waitFor } from "./harness.ts";

let h: Harness;
let proxy: TamperingProxy;
let agent: AgentHandle;
let policyFile: string;
/** The first snapshot the agent received: it lists "good" only. */
let firstSnapshot: PassingEvent;

const NEW_KEY = testSigningKey(2);
const quota = (cpu: string) => ({ quota: { cpu, memory: "1Gi" } });

async function statusOf(id: string): Promise<WorkspaceStatus | undefined> {
  return (await h.cp.admin.getAgentStatus(h.agentId))?.workspaces.find((w) => w.id === id);
}
const rejected = (w: WorkspaceStatus | undefined) => w?.conditions.find((c) => c.type === "SpecRejected");
const hard = async (id: string) =>
  (
    await h.admin.getOrUndefined<{ spec: { hard: Record<string, string> } }>(
      `/api/v1/namespaces/mw-${id}/resourcequotas/meridian-workspace-quota`,
    )
  )?.spec.hard;
/** The inventory of one workspace's namespace and its objects. */
const inventoryOf = async (id: string): Promise<Inventory> =>
  Object.fromEntries(Object.entries(await inventory(h.admin)).filter(([k]) => k.includes(`mw-${id}`)));
const lastRejection = async (since: string, re: RegExp) =>
  waitFor(`a rejection ${re} reported upward`, async () => {
    const last = (await h.cp.admin.getAgentStatus(h.agentId))?.rejectedEvents.last;
    return last && last.at >= since && re.test(last.error) ? last : undefined;
  });
/** Warning Events about workspace `id`'s namespace with `reason`. */
async function warnings(id: string, reason: string): Promise<{ message: string }[]> {
  const list = await h.admin.request<{
    items: {
      reason: string;
      type: string;
      message: string;
      involvedObject: { kind: string; name: string };
    }[];
  }>({
    method: "GET",
    path: "/api/v1/namespaces/default/events",
  });
  return list.items.filter(
    (e) =>
      e.type === "Warning" &&
      e.reason === reason &&
      e.involvedObject.kind === "Namespace" &&
      e.involvedObject.name === `mw-${id}`,
  );
}
async function converged(id: string, generation: number, cpu: string): Promise<void> {
  let seen: unknown;
  await waitFor(
    `${id} at generation ${generation} with quota cpu ${cpu}`,
    async () => {
      const w = await statusOf(id);
      const q = await hard(id);
      seen = {
        observedGeneration: w?.observedGeneration,
        cpu: q?.["limits.cpu"],
        rejected: rejected(w)?.message,
      };
      return w?.observedGeneration === generation && q?.["limits.cpu"] === cpu && !rejected(w);
    },
    30_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last seen ${JSON.stringify(seen)}`);
  });
}
async function startAgent(keys: string[]): Promise<void> {
  agent = await h.startAgent({ policyFile, controlPlaneUrl: proxy.url, signingPublicKeys: keys.join(",") });
  await waitFor("the agent to lead", () => agent.controller()?.snapshotSeen, 30_000);
}

before(async () => {
  h = await startHarness();
  proxy = await startTamperingProxy(h.cp.url);
  policyFile = await h.writePolicy({ namespacePrefix: "mw-", orphanGracePeriodSeconds: 3600 });
  await h.cp.admin.putWorkspace(h.agentId, "good", quota("1"));
  await startAgent([TEST_SIGNING_PUBLIC_KEY]);
  firstSnapshot = proxy.passed.find((e) => e.type === "snapshot") as PassingEvent;
  assert.ok(firstSnapshot?.data.includes('"signature"'), "the control plane signs its snapshot");
  await h.cp.admin.putWorkspace(h.agentId, "target", quota("1"));
  await converged("good", 1, "1");
  await converged("target", 1, "1");
});
after(async () => {
  await proxy?.close();
  await h?.stop();
});

/** The agent's status once it says (after `since`) that no snapshot was accepted, with that condition. */
async function snapshotRefusedSince(since: string) {
  return waitFor(
    "a status saying no snapshot was accepted",
    async () => {
      const s = await h.cp.admin.getAgentStatus(h.agentId);
      const c = s?.conditions?.find((x) => x.type === "SnapshotAccepted");
      return s && c && c.lastTransitionTime >= since ? { s, c } : undefined;
    },
    30_000,
  );
}

test("one field of a signed event altered on the link: refused SignatureInvalid, reported, evented, nothing changed; the other workspace converges", async () => {
  await agent.controller()?.idle();
  const before = await inventoryOf("target");
  const since = new Date().toISOString();
  // The link raises the quota the control plane sent and keeps the signature.
  const tampered = proxy.tamperOnce((e) => {
    if (e.type !== "workspace.upsert" || !e.data.includes('"id":"target"')) return undefined;
    const data = JSON.parse(e.data);
    data.workspace.quota.cpu = "64";
    return JSON.stringify(data);
  });
  await h.cp.admin.putWorkspace(h.agentId, "target", quota("2"));
  assert.match((await tampered).data, /"cpu":"64"/);
  await h.cp.admin.putWorkspace(h.agentId, "good", quota("2"));
  await converged("good", 2, "2");
  const last = await lastRejection(since, /does not match its content/);
  assert.equal(last.eventType, "workspace.upsert");
  const w = await waitFor("target's SpecRejected", async () => rejected(await statusOf("target")));
  assert.equal(w.reason, "SignatureInvalid");
  assert.match(
    w.message,
    /^event "workspace.upsert" \(target\): its signature by key [0-9a-f]{16} does not match its content; generation 1 stays applied$/,
  );
  await waitFor(
    "a Warning Event SignatureInvalid on mw-target",
    async () => (await warnings("target", "SignatureInvalid")).length > 0,
  );
  assert.equal((await statusOf("target"))?.observedGeneration, 1);
  assert.equal((await hard("target"))?.["limits.cpu"], "1");
  assert.deepEqual(await inventoryOf("target"), before, "nothing of target changed");
});

test("an unsigned event is refused SignatureMissing and changes nothing", async () => {
  await agent.controller()?.idle();
  const before = await inventoryOf("target");
  const since = new Date().toISOString();
  const stripped = proxy.tamperOnce((e) => {
    if (e.type !== "workspace.upsert" || !e.data.includes('"id":"target"')) return undefined;
    const { signature: _dropped, ...data } = JSON.parse(e.data);
    return JSON.stringify(data);
  });
  await h.cp.admin.putWorkspace(h.agentId, "target", quota("3"));
  assert.doesNotMatch((await stripped).data, /signature/);
  await lastRejection(since, /unsigned, and this agent verifies every event/);
  const w = await waitFor("SignatureMissing on target", async () => {
    const c = rejected(await statusOf("target"));
    return c?.reason === "SignatureMissing" ? c : undefined;
  });
  assert.match(w.message, /generation 1 stays applied$/);
  await waitFor(
    "a Warning Event SignatureMissing",
    async () => (await warnings("target", "SignatureMissing")).length > 0,
  );
  assert.deepEqual(await inventoryOf("target"), before, "nothing of target changed");
});

test("an older, validly signed snapshot replayed on a redial is refused ReplayedEvent: target is not orphaned", async () => {
  await agent.controller()?.idle();
  const before = await inventoryOf("target");
  const since = new Date().toISOString();
  // The link answers the agent's redial with the first snapshot, which does not list "target".
  const answered = proxy.answerNextStream(/\/v1\/agents\/.*\/stream$/, [firstSnapshot]);
  proxy.dropStreams();
  await answered;
  const last = await lastRejection(since, /is validly signed but not newer than event/);
  assert.equal(last.eventType, "snapshot");
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual(await inventoryOf("target"), before, "target is not marked orphaned, nothing changed");
  assert.notEqual((await statusOf("target"))?.phase, "Orphaned");
  // The link lets go: the real control plane's snapshot brings target's latest spec (generation 3).
  proxy.dropStreams();
  await converged("target", 3, "3");
});

test("key rotation: with both keys pinned either signature passes; pinning only the new key refuses the old", async () => {
  await agent.stop();
  const newKey = publicKeyText(NEW_KEY);
  await startAgent([TEST_SIGNING_PUBLIC_KEY, newKey]);
  h.cp.useSigningKey(NEW_KEY);
  await h.cp.admin.putWorkspace(h.agentId, "target", quota("4"));
  await converged("target", 4, "4");
  h.cp.useSigningKey(TEST_SIGNING_KEY);
  await h.cp.admin.putWorkspace(h.agentId, "target", quota("5"));
  await converged("target", 5, "5");

  // The rotation done: the agent pins only the new key. Events still signed with the removed one
  // (a vendor that has not switched, or whoever holds the retired key) are refused.
  await agent.stop();
  h.cp.useSigningKey(NEW_KEY);
  await startAgent([newKey]);
  await converged("target", 5, "5");
  await agent.controller()?.idle();
  const before = await inventoryOf("target");
  const since = new Date().toISOString();
  h.cp.useSigningKey(TEST_SIGNING_KEY);
  await h.cp.admin.putWorkspace(h.agentId, "target", quota("6"));
  const last = await lastRejection(since, /which is not pinned/);
  assert.equal(last.eventType, "workspace.upsert");
  await waitFor("the upsert refused UnknownSigningKey", async () => {
    const c = rejected(await statusOf("target"));
    return c?.reason === "UnknownSigningKey";
  });
  await waitFor(
    "a Warning Event UnknownSigningKey",
    async () => (await warnings("target", "UnknownSigningKey")).length > 0,
  );
  assert.deepEqual(await inventoryOf("target"), before, "nothing changed under the removed key");
  // Signed with the pinned key again, the next change passes.
  h.cp.useSigningKey(NEW_KEY);
  await h.cp.admin.putWorkspace(h.agentId, "target", quota("7"));
  await converged("target", 7, "7");
  await converged("good", 2, "2");
});

test("one altered item of a signed snapshot is refused alone: the others apply, it keeps its spec and is not orphaned", async () => {
  // The stream is down while both workspaces change; the redial gets a fresh snapshot carrying both.
  proxy.pauseStreams(true);
  proxy.dropStreams();
  await h.cp.admin.putWorkspace(h.agentId, "good", quota("3"));
  await h.cp.admin.putWorkspace(h.agentId, "target", quota("8"));
  await agent.controller()?.idle();
  const before = await inventoryOf("target");
  const since = new Date().toISOString();
  const tampered = proxy.tamperOnce((e) => {
    if (e.type !== "snapshot") return undefined;
    const data = JSON.parse(e.data);
    const item = data.workspaces.find((w: { id: string }) => w.id === "target");
    item.quota.cpu = "64";
    return JSON.stringify(data);
  });
  proxy.forgetNextLastEventId();
  proxy.pauseStreams(false);
  await tampered;
  await converged("good", 3, "3");
  const last = await lastRejection(since, /^workspaces\.\d \(target\): its signature by key/);
  assert.equal(last.eventType, "snapshot");
  const c = await waitFor("target's SpecRejected", async () => rejected(await statusOf("target")));
  assert.equal(c.reason, "SignatureInvalid");
  assert.match(c.message, /generation 7 stays applied$/);
  const w = await statusOf("target");
  assert.notEqual(w?.phase, "Orphaned");
  assert.equal(w?.observedGeneration, 7);
  assert.deepEqual(await inventoryOf("target"), before, "nothing of target changed, no orphan mark");
});

test("after a restart an old, validly signed snapshot is still refused ReplayedEvent (the mark on the credential Secret): nothing orphaned, nothing deleted re-created, the refusal reported upward", async () => {
  const credentialSecret = await installCredentialRole(h);
  const flags = {
    policyFile,
    controlPlaneUrl: proxy.url,
    signingPublicKeys: publicKeyText(NEW_KEY),
    credentialSecret,
  };
  await agent.stop();
  await h.cp.admin.putWorkspace(h.agentId, "gone", quota("1"));
  agent = await h.startAgent(flags);
  await waitFor("the agent to lead", () => agent.controller()?.snapshotSeen, 30_000);
  await converged("gone", 1, "1");
  const agentStream = /\/v1\/agents\/[^/]+\/stream$/;
  const old = proxy.passed
    .filter((e) => e.type === "snapshot" && agentStream.test(e.path))
    .at(-1) as PassingEvent;
  assert.ok(
    old?.data.includes('"id":"gone"') && !old.data.includes('"id":"late"'),
    "the old snapshot lists gone",
  );
  // After it: a new workspace, and a deletion that completes.
  await h.cp.admin.putWorkspace(h.agentId, "late", quota("1"));
  await converged("late", 1, "1");
  await h.cp.admin.deleteWorkspace(h.agentId, "gone");
  await waitFor(
    "mw-gone deleted",
    async () => !(await h.admin.getOrUndefined("/api/v1/namespaces/mw-gone")),
    60_000,
  );
  // Churn on a workspace already held costs no write of the mark.
  const gate = agent.controller()?.gate;
  const writes = gate?.writes;
  for (let cpu = 2; cpu <= 11; cpu++) await h.cp.admin.putWorkspace(h.agentId, "late", quota(String(cpu)));
  await converged("late", 11, "11");
  assert.equal(gate?.writes, writes, "ten updates of a held workspace: the mark was not written");
  const secret = await h.admin.getOrUndefined<{ metadata: { annotations?: Record<string, string> } }>(
    `/api/v1/namespaces/${h.rbac.namespace}/secrets/${credentialSecret}`,
  );
  const mark = parseMark(secret?.metadata.annotations?.[ANNOTATION_STREAM_MARK]);
  assert.ok(
    mark && mark.id > BigInt(old.id as string),
    `the stored mark ${mark?.id} is after the old snapshot ${old.id}`,
  );
  await agent.controller()?.idle();

  // A crash (the Lease is not released); the link answers the new agent's first dial with the old snapshot.
  await agent.stop({ release: false });
  const before = await workspacesInventory();
  const since = new Date().toISOString();
  const answered = proxy.answerNextStream(agentStream, [old]);
  agent = await h.startAgent(flags);
  await answered;
  const refused = await snapshotRefusedSince(since);
  assert.equal(refused.c.status, "False");
  assert.equal(refused.c.reason, "ReplayedEvent");
  assert.match(refused.c.message, /is validly signed but not newer than event \d+/);
  assert.deepEqual(refused.s.workspaces, [], "no workspace is reported before a snapshot is accepted");
  assert.equal(refused.s.rejectedEvents.last?.eventType, "snapshot");
  assert.equal(agent.controller()?.snapshotSeen, false);
  await agent.controller()?.idle();
  assert.deepEqual(await workspacesInventory(), before, "late not orphaned, gone not re-created");

  // The link lets go: the control plane's own snapshot is accepted, and nothing was undone.
  proxy.dropStreams();
  await converged("late", 11, "11");
  await waitFor("the status without the condition", async () => {
    const s = await h.cp.admin.getAgentStatus(h.agentId);
    return s && !s.conditions && s.workspaces.length > 0;
  });
  assert.notEqual((await statusOf("late"))?.phase, "Orphaned");
  assert.equal(await h.admin.getOrUndefined("/api/v1/namespaces/mw-gone"), undefined, "gone stays gone");
});

test("a key pinned wrong at install: the refused first snapshot reaches the control plane as SnapshotAccepted False UnknownSigningKey", async () => {
  await agent.stop();
  const since = new Date().toISOString();
  agent = await h.startAgent({
    policyFile,
    controlPlaneUrl: proxy.url,
    signingPublicKeys: publicKeyText(testSigningKey(3)),
  });
  const refused = await snapshotRefusedSince(since);
  assert.equal(refused.c.reason, "UnknownSigningKey");
  assert.match(refused.c.message, /which is not pinned .*controlPlane\.signingPublicKeys/);
  assert.match(refused.c.message, /no workspace is reported until a snapshot is accepted$/);
  assert.equal(refused.s.rejectedEvents.last?.eventType, "snapshot");
  assert.deepEqual(refused.s.workspaces, []);
  assert.equal(agent.controller()?.snapshotSeen, false);
});

/** Every workspace namespace's objects. */
async function workspacesInventory(): Promise<Inventory> {
  return Object.fromEntries(Object.entries(await inventory(h.admin)).filter(([k]) => k.includes("mw-")));
}
