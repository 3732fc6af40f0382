// Workspace namespaces are hardened by default, on the real API server (which enforces Pod Security
// admission and applies LimitRanges): the real agent creates a workspace that enforces `restricted`, the
// node simulator runs the workspace agent pod it deploys, and that workspace agent creates the pods of a
// Flink deployment (simulated image, no JVM) — all admitted under `restricted`, while a pod that breaks
// it is refused and a pod without requests gets the LimitRange's defaults.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { KubeObject } from "@meridian/shared/kube/resources";
import type { WorkspaceStatus } from "@meridian/shared/protocol/index";
import { SIMULATED } from "../workspace-agent/harness.ts";
import { tryWrite } from "./confinement.ts";
import { type Harness, startHarness, waitFor } from "./harness.ts";
import { restrictedPod } from "./restricted-pod.ts";

let h: Harness;
// biome-ignore lint/suspicious/noExplicitAny: tests read nested fields freely
type Loose = KubeObject & Record<string, any>;

before(async () => {
  h = await startHarness({ nodes: 1 });
  await h.startAgent();
});
after(() => h?.stop());

const statusOf = async (id: string): Promise<WorkspaceStatus | undefined> =>
  (await h.cp.admin.getAgentStatus(h.agentId))?.workspaces.find((w) => w.id === id);

test("the workspace namespace enforces restricted, and the workspace agent pod runs under it", async () => {
  await h.cp.admin.putWorkspace(h.agentId, "hard", { quota: { cpu: "4", memory: "8Gi" } });
  await waitFor(
    "the workspace Ready (its workspace agent pod admitted and running)",
    async () => (await statusOf("hard"))?.conditions.find((c) => c.type === "Ready")?.status === "True",
    90_000,
  );
  const ns = await h.admin.getOrUndefined<Loose>("/api/v1/namespaces/mw-hard");
  assert.equal(ns?.metadata?.labels?.["pod-security.kubernetes.io/enforce"], "restricted");
  assert.equal(ns?.metadata?.labels?.["pod-security.kubernetes.io/enforce-version"], "latest");
  const events = await h.admin.request<{ items: { reason: string; message: string }[] }>({
    method: "GET",
    path: "/api/v1/namespaces/mw-hard/events",
  });
  const refused = events.items.filter((e) => e.reason === "FailedCreate");
  assert.deepEqual(refused, [], "the ReplicaSet could not create the workspace agent pod");
});

test("the workspace agent's Flink pods are admitted under restricted", async () => {
  await h.cp.admin.putDeployment("hard", "job", { ...SIMULATED, parallelism: 2 });
  const pods = await waitFor(
    "the JobManager and two TaskManagers",
    async () => {
      const list = await h.admin.request<{ items: Loose[] }>({
        method: "GET",
        path: "/api/v1/namespaces/mw-hard/pods?labelSelector=meridian.dev/deployment%3Djob",
      });
      return list.items.length === 3 ? list.items : undefined;
    },
    60_000,
  );
  for (const p of pods) {
    assert.equal(p.metadata?.labels?.["app.kubernetes.io/managed-by"], "meridian-workspace-agent");
    assert.equal(p.spec.securityContext.seccompProfile.type, "RuntimeDefault");
  }
});

test("a pod that breaks restricted is refused in the workspace namespace, even for an admin", async () => {
  const root = restrictedPod("root");
  root.spec.securityContext = {} as never;
  root.spec.containers[0]!.securityContext = { privileged: true } as never;
  const res = await tryWrite(h.admin, "POST", "/api/v1/namespaces/mw-hard/pods", root, { dryRun: true });
  assert.equal(res.status, 403, res.message);
  assert.match(res.message, /violates PodSecurity "restricted:latest": privileged/);
  const ok = await tryWrite(h.admin, "POST", "/api/v1/namespaces/mw-hard/pods", restrictedPod("fine"), {
    dryRun: true,
  });
  assert.equal(ok.status, 201, ok.message);
});

test("a container without requests or limits gets the LimitRange's defaults, within the quota", async () => {
  const created = await h.admin.request<Loose>({
    method: "POST",
    path: "/api/v1/namespaces/mw-hard/pods",
    query: { dryRun: "All" },
    body: restrictedPod("no-requests"),
  });
  assert.deepEqual(created.spec.containers[0].resources, {
    requests: { cpu: "100m", memory: "128Mi" },
    limits: { cpu: "500m", memory: "512Mi" },
  });
  const limits = await h.admin.getOrUndefined<Loose>(
    "/api/v1/namespaces/mw-hard/limitranges/meridian-workspace-limits",
  );
  assert.equal(limits?.metadata?.labels?.["app.kubernetes.io/managed-by"], "meridian-agent");
});

test("the three NetworkPolicies are in place, labelled as the agent's", async () => {
  for (const name of [
    "meridian-default-deny",
    "meridian-deny-cross-namespace",
    "meridian-workspace-agent-egress",
  ]) {
    const np = await h.admin.getOrUndefined<Loose>(
      `/apis/networking.k8s.io/v1/namespaces/mw-hard/networkpolicies/${name}`,
    );
    assert.equal(np?.metadata?.labels?.["app.kubernetes.io/managed-by"], "meridian-agent", name);
  }
});
