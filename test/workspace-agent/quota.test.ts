// A TaskManager pod the API server refuses because the workspace's ResourceQuota (a real one, enforced
// by the real ResourceQuota admission plugin) has no room: the deployment's Ready condition says
// QuotaExceeded, naming the quota and the API server's numbers, a Warning Event says the same, and
// once the quota grows the pod is created and the reason goes.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { WorkspaceAgent } from "@meridian/workspace-agent/agent";
import {
  condition,
  createWorkspace,
  type Env,
  kubeGet,
  podsOf,
  reported,
  SIMULATED,
  startAgent,
  startEnv,
  type Workspace,
  waitFor,
} from "./harness.ts";

const QUOTA = "meridian-workspace-quota";
const NAME = "big";

let env: Env;
let ws: Workspace;
let agent: WorkspaceAgent;

interface Quota {
  spec: { hard: Record<string, string> };
  status?: { hard?: Record<string, string> };
}

/** Writes the quota and waits until the quota controller has published it (admission uses status.hard). */
async function setQuota(memory: string): Promise<void> {
  const path = `/api/v1/namespaces/${ws.namespace}/resourcequotas`;
  const body = { metadata: { name: QUOTA }, spec: { hard: { "limits.memory": memory } } };
  const existing = await kubeGet<Quota & { metadata: { resourceVersion: string } }>(env, `${path}/${QUOTA}`);
  const res = existing
    ? await env.cluster.request("PUT", `${path}/${QUOTA}`, {
        ...body,
        metadata: { ...body.metadata, resourceVersion: existing.metadata.resourceVersion },
      })
    : await env.cluster.request("POST", path, body);
  assert.ok(res.status < 300, `writing the quota: ${res.status} ${res.body}`);
  await waitFor(
    `quota ${memory} in force`,
    async () => (await kubeGet<Quota>(env, `${path}/${QUOTA}`))?.status?.hard?.["limits.memory"] === memory,
    30_000,
  );
}

before(async () => {
  env = await startEnv();
  ws = await createWorkspace(env, "quota");
  // Room for the JobManager (256Mi), not for the TaskManager (1Gi).
  await setQuota("512Mi");
  agent = await startAgent(env, ws);
});

after(async () => {
  await agent?.stop();
  await env?.stop();
});

test("a pod refused by the ResourceQuota is reported as Ready=False QuotaExceeded with the quota's numbers, and recovers when it grows", async () => {
  await env.cp.admin.putDeployment(ws.id, NAME, {
    ...SIMULATED,
    taskManager: { ...SIMULATED.taskManager, resources: { cpu: "100m", memory: "1Gi" } },
  });
  const refused = await waitFor(
    "Ready=False QuotaExceeded",
    async () => {
      const s = await reported(env, ws, NAME);
      return condition(s, "Ready")?.reason === "QuotaExceeded" ? s : undefined;
    },
    60_000,
  );
  const ready = condition(refused, "Ready");
  assert.equal(ready?.status, "False");
  assert.match(
    ready?.message ?? "",
    new RegExp(
      `^pod ${NAME}-taskmanager-0 cannot be created: it would exceed ResourceQuota ${QUOTA} ` +
        // The JobManager is created at the same time: counted already, or not yet.
        "\\(requested limits\\.memory=1Gi; used limits\\.memory=(0|256Mi); limited limits\\.memory=512Mi\\)",
    ),
  );
  const pods = (await podsOf(env, ws.namespace, NAME)).map((p) => p.metadata.name);
  assert.deepEqual(pods, [`${NAME}-jobmanager`], "the JobManager fits, the TaskManager does not");
  // The same reason as a Warning Event on the deployment's ConfigMap, for `kubectl get events`.
  const events = await kubeGet<{ items: { reason: string; type: string; message: string }[] }>(
    env,
    `/api/v1/namespaces/${ws.namespace}/events?fieldSelector=reason%3DQuotaExceeded`,
  );
  const mine = events?.items.filter((e) => e.message.includes(`${NAME}-taskmanager-0`)) ?? [];
  assert.ok(mine.length >= 1, `no QuotaExceeded Event: ${JSON.stringify(events?.items)}`);
  assert.equal(mine[0]?.type, "Warning");
  assert.match(mine[0]?.message ?? "", new RegExp(`ResourceQuota ${QUOTA}`));

  // Room again: the controller's retry creates the TaskManager and the reason goes.
  await setQuota("4Gi");
  await waitFor(
    "the TaskManager created",
    async () =>
      (await podsOf(env, ws.namespace, NAME)).some((p) => p.metadata.name === `${NAME}-taskmanager-0`),
    60_000,
  );
  const recovered = await waitFor(
    "Ready no longer QuotaExceeded",
    async () => {
      const s = await reported(env, ws, NAME);
      const r = condition(s, "Ready");
      return r && r.reason !== "QuotaExceeded" ? s : undefined;
    },
    30_000,
  );
  // Simulated pods run no Flink: the deployment waits for its job, as any other without quota trouble.
  assert.equal(condition(recovered, "Ready")?.reason, "Deploying");
});
