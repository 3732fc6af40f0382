// The agent's HTTPS proxy reaches a workspace agent through the Secret meridian-workspace-proxy, on the
// real API server under the confinement policies: the Deployment names the Secret (secretKeyRef) and
// never holds the URL or its password; a new URL rewrites the Secret and rolls the pod template (a new
// random revision, nothing derived from the URL); an agent without a proxy deletes the Secret, so the
// password does not outlive its use. (The harness's control plane is plain http on loopback, which an
// HTTPS proxy does not apply to, so the proxy URLs here are never dialled.)
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { AgentHandle } from "../../agent/src/agent.ts";
import { type Harness, startHarness, waitFor } from "./harness.ts";

let h: Harness;
let agent: AgentHandle | undefined;
const NS = "mw-proxied";
const FIRST = "http://meridian:first-proxy-pass@proxy.corp.example:3128";
const SECOND = "http://meridian:second-proxy-pass@proxy.corp.example:3128";

// biome-ignore lint/suspicious/noExplicitAny: tests navigate API objects freely
type Obj = Record<string, any>;
const secret = () => h.admin.getOrUndefined<Obj>(`/api/v1/namespaces/${NS}/secrets/meridian-workspace-proxy`);
const deployment = () =>
  h.admin.getOrUndefined<Obj>(`/apis/apps/v1/namespaces/${NS}/deployments/meridian-workspace-agent`);
const urlOf = (s: Obj | undefined) =>
  s?.data?.httpsProxy ? Buffer.from(s.data.httpsProxy, "base64").toString("utf8") : undefined;
const revisionOf = (d: Obj | undefined) =>
  d?.spec.template.metadata.annotations?.["meridian.dev/proxy-revision"] as string | undefined;

async function restartAgent(extra: Record<string, string>): Promise<void> {
  await agent?.stop();
  agent = await h.startAgent(extra);
}

before(async () => {
  h = await startHarness();
});
after(async () => {
  await agent?.stop();
  await h?.stop();
});

function assertNoPassword(d: Obj | undefined): void {
  const text = JSON.stringify(d);
  for (const part of ["first-proxy-pass", "second-proxy-pass", "proxy.corp.example"])
    assert.ok(!text.includes(part), `the workspace agent Deployment holds ${part}`);
}

test("the proxy URL is in the workspace's proxy Secret only, named by the Deployment", async () => {
  await restartAgent({ httpsProxy: FIRST });
  await h.cp.admin.putWorkspace(h.agentId, "proxied", { quota: { cpu: "2", memory: "2Gi" } });
  const s = await waitFor(
    "the proxy Secret",
    async () => {
      const found = await secret();
      return urlOf(found) ? found : undefined;
    },
    30_000,
  );
  assert.equal(urlOf(s), FIRST);
  assert.equal(s.metadata.labels["app.kubernetes.io/managed-by"], "meridian-agent");
  const d = await waitFor("the workspace agent Deployment", deployment, 30_000);
  const env = d.spec.template.spec.containers[0].env.find((e: Obj) => e.name === "HTTPS_PROXY");
  assert.deepEqual(env.valueFrom, { secretKeyRef: { name: "meridian-workspace-proxy", key: "httpsProxy" } });
  assert.equal(revisionOf(d), s.metadata.annotations["meridian.dev/proxy-revision"]);
  assertNoPassword(d);
});

test("a new URL rewrites the Secret and rolls the pod template; the same URL after a restart changes nothing", async () => {
  const before = revisionOf(await deployment());
  await restartAgent({ httpsProxy: FIRST });
  await h.cp.admin.putWorkspace(h.agentId, "proxied", { quota: { cpu: "2", memory: "3Gi" } });
  await waitFor("the new quota applied", async () => {
    const q = await h.admin.getOrUndefined<Obj>(
      `/api/v1/namespaces/${NS}/resourcequotas/meridian-workspace-quota`,
    );
    return q?.spec.hard["requests.memory"] === "3Gi";
  });
  assert.equal(revisionOf(await deployment()), before, "an unchanged URL rolled the workspace agent");
  await restartAgent({ httpsProxy: SECOND });
  const d = await waitFor(
    "a new revision on the pod template",
    async () => {
      const d = await deployment();
      return revisionOf(d) && revisionOf(d) !== before ? d : undefined;
    },
    30_000,
  );
  const s = await secret();
  assert.equal(urlOf(s), SECOND);
  assert.equal(revisionOf(d), s?.metadata.annotations["meridian.dev/proxy-revision"]);
  assertNoPassword(d);
});

test("an agent without a proxy deletes the Secret and the variable", async () => {
  await restartAgent({});
  await waitFor("the proxy Secret gone", async () => (await secret()) === undefined, 30_000);
  const d = await waitFor(
    "a Deployment without HTTPS_PROXY",
    async () => {
      const d = await deployment();
      return d?.spec.template.spec.containers[0].env.some((e: Obj) => e.name === "HTTPS_PROXY")
        ? undefined
        : d;
    },
    30_000,
  );
  assert.equal(revisionOf(d), undefined);
});
