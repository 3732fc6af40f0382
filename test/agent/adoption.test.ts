// Meridian never adopts or deletes what it did not create (issue 15, defect 1), on a real API server
// through the reference control plane: a customer's namespace that happens to carry a workspace's
// name, a namespace labelled for another workspace, and one of the agent's own objects whose
// ownership labels were removed. Each is refused with a named reason, nothing of it is written or
// deleted (an inventory before and after, managedFields included), and other workspaces converge.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { isWriteVerb } from "@meridian/shared/kube/client";
import type { KubeObject } from "@meridian/shared/kube/resources";
import type { WorkspaceStatus } from "@meridian/shared/protocol/index";
import type { AgentHandle } from "../../agent/src/agent.ts";
import { type Harness, startHarness, waitFor } from "./harness.ts";

let h: Harness;
let agent: AgentHandle;
/** Writes to anything but the Lease, as seen by the agent's own client. */
const writes: { verb: string; path: string }[] = [];

const QUOTA = { cpu: "2", memory: "2Gi" };
const MANAGED_BY = "app.kubernetes.io/managed-by";
const WORKSPACE = "meridian.dev/workspace";

before(async () => {
  h = await startHarness();
  const policyFile = await h.writePolicy({
    namespacePrefix: "mw-",
    allowedRegistries: { workspaceAgent: ["ghcr.io/meridian-dev"], flink: ["docker.io/library/flink"] },
    quotaCeilings: { cpu: "16", memory: "64Gi" },
    // Short, so that orphan expiry happens within the test (see the last test).
    orphanGracePeriodSeconds: 2,
  });
  agent = await h.startAgent({ policyFile });
  agent.kube.onRequest((i) => {
    if (isWriteVerb(i.verb) && !i.path.includes("/leases")) writes.push({ verb: i.verb, path: i.path });
  });
});
after(() => h?.stop());

// biome-ignore lint/suspicious/noExplicitAny: tests read nested fields freely
type Loose = KubeObject & Record<string, any>;
const get = (path: string) => h.admin.getOrUndefined<Loose>(path);

/** Every kind the agent or a workspace agent could write in a namespace, and what the customer keeps. */
const KINDS = [
  "api/v1/configmaps",
  "api/v1/secrets",
  "api/v1/serviceaccounts",
  "api/v1/services",
  "api/v1/pods",
  "api/v1/resourcequotas",
  "apis/rbac.authorization.k8s.io/v1/roles",
  "apis/rbac.authorization.k8s.io/v1/rolebindings",
  "apis/networking.k8s.io/v1/networkpolicies",
  "apis/apps/v1/deployments",
];

const identity = (o: Loose) => ({
  uid: o.metadata?.uid,
  resourceVersion: o.metadata?.resourceVersion,
  labels: o.metadata?.labels,
  annotations: o.metadata?.annotations,
  managedFields: o.metadata?.managedFields,
});

/** The namespace and everything of those kinds in it, as exactly as the API server has them. */
async function inventory(ns: string): Promise<Record<string, unknown>> {
  const namespace = await get(`/api/v1/namespaces/${ns}`);
  const out: Record<string, unknown> = { [`namespace/${ns}`]: namespace && identity(namespace) };
  for (const kind of KINDS) {
    const [prefix, ...rest] = kind.split("/");
    const plural = rest.pop();
    const list = await h.admin.request<{ items: Loose[] }>({
      method: "GET",
      path: `/${prefix}/${rest.join("/")}/namespaces/${ns}/${plural}`,
    });
    for (const o of list.items) out[`${plural}/${o.metadata?.name}`] = identity(o);
  }
  return out;
}

async function createNamespace(name: string, labels: Record<string, string>): Promise<void> {
  await h.admin.request({
    method: "POST",
    path: "/api/v1/namespaces",
    body: { metadata: { name, labels, annotations: { "example.com/owner": "data-team" } } },
  });
  await h.admin.request({
    method: "POST",
    path: `/api/v1/namespaces/${name}/configmaps`,
    body: { metadata: { name: "customer-data", labels: { team: "data" } }, data: { orders: "42" } },
  });
  // What kube-controller-manager adds to every namespace, so the inventory is taken once settled.
  await waitFor(`the default ServiceAccount in ${name}`, () =>
    get(`/api/v1/namespaces/${name}/serviceaccounts/default`),
  );
  await waitFor(`kube-root-ca.crt in ${name}`, () =>
    get(`/api/v1/namespaces/${name}/configmaps/kube-root-ca.crt`),
  );
}

async function workspaceStatus(id: string): Promise<WorkspaceStatus | undefined> {
  const s = await h.cp.admin.getAgentStatus(h.agentId);
  return s?.workspaces.find((w) => w.id === id);
}
const cond = (w: WorkspaceStatus | undefined, type: string) => w?.conditions.find((c) => c.type === type);

async function idle(): Promise<void> {
  await waitFor("the agent to lead", () => agent.controller()?.snapshotSeen);
  await agent.controller()?.idle();
}

const aligned = (id: string) =>
  waitFor(`${id} SpecAligned`, async () => {
    const s = await workspaceStatus(id);
    return cond(s, "SpecAligned")?.status === "True" ? s : undefined;
  });

const writesTo = (ns: string) =>
  writes.filter((w) => w.path.includes(`/namespaces/${ns}/`) || w.path.endsWith(`/namespaces/${ns}`));

/** Events anywhere about an object, e.g. a Namespace (whose Events go to `default`). */
async function eventsAbout(name: string): Promise<{ reason: string; type: string }[]> {
  const list = await h.admin.request<{
    items: { reason: string; type: string; involvedObject: { name: string } }[];
  }>({ method: "GET", path: "/api/v1/events" });
  return list.items.filter((e) => e.involvedObject.name === name);
}

const refusalLines = (id: string) =>
  h.logs.filter((l) => l.includes("is not Meridian's; nothing written") && l.includes(`"${id}"`));

test("a customer's namespace of the workspace's name is refused, untouched, and survives the workspace's delete", async () => {
  await createNamespace("mw-taken", { team: "data" });
  const before = await inventory("mw-taken");
  await h.cp.admin.putWorkspace(h.agentId, "taken", { quota: QUOTA });
  await h.cp.admin.putWorkspace(h.agentId, "good", { quota: QUOTA });

  const refused = await waitFor("taken refused", async () => {
    const s = await workspaceStatus("taken");
    return s?.phase === "Refused" ? s : undefined;
  });
  const conflict = cond(refused, "OwnershipConflict");
  assert.equal(conflict?.status, "True");
  assert.equal(conflict?.reason, "ObjectNotOwned");
  assert.match(conflict?.message ?? "", /^Namespace mw-taken already exists and is not Meridian's/);
  assert.match(conflict?.message ?? "", /it has no label app\.kubernetes\.io\/managed-by/);
  assert.match(conflict?.message ?? "", /choose another workspace id or local-policy namespacePrefix/);
  assert.equal(cond(refused, "SpecAligned")?.reason, "OwnershipConflict");
  assert.equal(cond(refused, "PolicyViolation")?.status, "False");
  assert.equal(refused?.observedGeneration, 1);

  // The good workspace beside it converges.
  await aligned("good");
  assert.ok(await get("/apis/apps/v1/namespaces/mw-good/deployments/meridian-workspace-agent"));

  // Resyncs change nothing and do not repeat the Warning.
  for (let i = 0; i < 3; i++) {
    agent.controller()?.resync();
    await idle();
  }
  assert.deepEqual(writesTo("mw-taken"), []);
  assert.deepEqual(await inventory("mw-taken"), before);
  for (const [key, o] of Object.entries(await inventory("mw-taken")))
    assert.notEqual((o as Loose).labels?.[MANAGED_BY], "meridian-agent", `${key} is not Meridian's`);
  assert.deepEqual(await eventsAbout("mw-taken"), [], "no Event about someone else's namespace");
  assert.equal(refusalLines("taken").length, 1, "the Warning is logged once");

  // Deleting the workspace deletes nothing of the customer's.
  await h.cp.admin.deleteWorkspace(h.agentId, "taken");
  await waitFor(
    "taken Deleted and dropped",
    async () => (await workspaceStatus("taken")) === undefined,
    30_000,
  );
  await idle();
  assert.deepEqual(writesTo("mw-taken"), []);
  assert.deepEqual(await inventory("mw-taken"), before);
  const cm = await get("/api/v1/namespaces/mw-taken/configmaps/customer-data");
  assert.equal(cm?.data.orders, "42");
  assert.ok(h.logs.some((l) => l.includes("left alone") && l.includes('"taken"')));
  assert.equal(cond(await workspaceStatus("good"), "SpecAligned")?.status, "True");
});

test("a namespace labelled as Meridian's for another workspace id is not this workspace's either", async () => {
  await createNamespace("mw-twin", { [MANAGED_BY]: "meridian-agent", [WORKSPACE]: "someone-else" });
  const before = await inventory("mw-twin");
  await h.cp.admin.putWorkspace(h.agentId, "twin", { quota: QUOTA });
  const refused = await waitFor("twin refused", async () => {
    const s = await workspaceStatus("twin");
    return s?.phase === "Refused" ? s : undefined;
  });
  assert.match(
    cond(refused, "OwnershipConflict")?.message ?? "",
    /its label meridian\.dev\/workspace is "someone-else" \(another workspace\)/,
  );
  await h.cp.admin.deleteWorkspace(h.agentId, "twin");
  await waitFor("twin dropped", async () => (await workspaceStatus("twin")) === undefined, 30_000);
  await idle();
  assert.deepEqual(writesTo("mw-twin"), []);
  assert.deepEqual(await inventory("mw-twin"), before);
});

test("an object of the agent's whose ownership labels were removed is released: refused until they are back", async () => {
  await idle();
  const npPath =
    "/apis/networking.k8s.io/v1/namespaces/mw-good/networkpolicies/meridian-deny-cross-namespace";
  await h.admin.request({
    method: "PATCH",
    path: npPath,
    contentType: "application/merge-patch+json",
    body: { metadata: { labels: { [MANAGED_BY]: null } } },
  });
  const refused = await waitFor("good refused", async () => {
    const s = await workspaceStatus("good");
    return s?.phase === "Refused" ? s : undefined;
  });
  assert.match(
    cond(refused, "OwnershipConflict")?.message ?? "",
    /^NetworkPolicy mw-good\/meridian-deny-cross-namespace already exists and is not Meridian's .*remove or rename that NetworkPolicy.*put the labels back$/,
  );
  await idle();
  const np = await get(npPath);
  assert.equal(np?.metadata?.labels?.[MANAGED_BY], undefined, "not relabelled");
  await waitFor("an OwnershipConflict Warning on mw-good", async () =>
    (await eventsAbout("mw-good")).some((e) => e.reason === "OwnershipConflict" && e.type === "Warning"),
  );
  // Putting the label back hands it back; the workspace converges again.
  await h.admin.request({
    method: "PATCH",
    path: npPath,
    contentType: "application/merge-patch+json",
    body: { metadata: { labels: { [MANAGED_BY]: "meridian-agent" } } },
  });
  const s = await aligned("good");
  assert.equal(cond(s, "OwnershipConflict")?.status, "False");
});

test("orphan expiry deletes only namespaces labelled as Meridian's for that workspace", async () => {
  // Absent from the control plane, labelled as ours: orphaned and, after 2 s, deleted (the control).
  await createNamespace("mw-stray", { [MANAGED_BY]: "meridian-agent", [WORKSPACE]: "stray" });
  // Absent from the control plane, labelled for another id: never an orphan of "lost".
  await createNamespace("mw-lost", { [MANAGED_BY]: "meridian-agent", [WORKSPACE]: "not-lost" });
  const before = { taken: await inventory("mw-taken"), lost: await inventory("mw-lost") };
  // A fresh snapshot makes the agent compare the cluster's namespaces with what is desired.
  await h.cp.admin.faults.truncateLog();
  await h.cp.admin.faults.dropStreams({ stream: "agent" });
  await waitFor("mw-stray to be deleted", async () => !(await get("/api/v1/namespaces/mw-stray")), 30_000);
  await idle();
  assert.deepEqual(writesTo("mw-taken"), []);
  assert.deepEqual(writesTo("mw-lost"), []);
  assert.deepEqual({ taken: await inventory("mw-taken"), lost: await inventory("mw-lost") }, before);
  assert.equal(cond(await workspaceStatus("good"), "SpecAligned")?.status, "True");
});
