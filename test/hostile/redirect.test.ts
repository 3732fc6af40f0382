// A control plane that answers with a redirect (issue 15, defect 2), against the real agent and a
// real API server: the redirect points to another loopback server that serves a valid snapshot
// with a workspace. The agent must not follow it — no request reaches the other host, no namespace
// appears — must log an error naming the Location and the setting to change, and must stay up.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type Harness, startHarness, waitFor } from "../agent/harness.ts";
import { diff, inventory } from "./inventory.ts";
import { event, type HostileServer, startHostileServer } from "./server.ts";
import { literal, logged, POLICY } from "./support.ts";

let h: Harness;
let hostile: HostileServer;
let elsewhere: HostileServer;
let policyFile: string;

before(async () => {
  h = await startHarness();
  policyFile = await h.writePolicy(POLICY);
  hostile = await startHostileServer();
  elsewhere = await startHostileServer();
  // What the other host would hand out: a perfectly valid snapshot that creates a workspace.
  const evil = { id: "evil", generation: 1, quota: { cpu: "1", memory: "1Gi" } };
  elsewhere.script(
    { method: "GET", path: /\/stream$/ },
    {
      body: [event({ id: "1", event: "snapshot", data: { workspaces: [evil] } })],
    },
  );
});
after(async () => {
  await hostile?.close();
  await elsewhere?.close();
  await h?.stop();
});

async function assertAlive(agent: { healthUrl: string; isLeader(): boolean }): Promise<void> {
  const res = await fetch(`${agent.healthUrl}/healthz`);
  assert.equal(res.status, 200, "the agent's /healthz");
  assert.ok(agent.isLeader(), "the agent still leads");
}

for (const status of [301, 302, 307, 308]) {
  test(`a ${status} on the stream is not followed: no namespace, an error naming the Location, the agent stays up`, async () => {
    const before = await inventory(h.admin);
    const location = `${elsewhere.url}/v1/agents/${h.agentId}/stream`;
    hostile.clearScripts();
    hostile.script({ method: "GET", path: /\/stream$/ }, { status, headers: { location } });
    const agent = await h.startAgent({ controlPlaneUrl: hostile.url, policyFile, signingPublicKeys: "" });
    try {
      const line = await waitFor(`an error naming ${location}`, () =>
        logged(
          h.logs,
          new RegExp(`http ${status}, a redirect to "${literal(location)}"`),
          /refuses this stream/,
        ),
      );
      assert.match(line.reason ?? "", /never followed.*--control-plane-url/);
      await sleep(1500); // time enough to have followed it, applied it and created a namespace
      assert.equal(elsewhere.requests.length, 0, "the other host never saw a request");
      assert.deepEqual(diff(before, await inventory(h.admin)), { added: [], removed: [], changed: [] });
      await assertAlive(agent);
    } finally {
      await agent.stop();
    }
  });
}

test("a redirect on the status POST is not followed either; the error names the Location", async () => {
  const location = `${elsewhere.url}/v1/agents/${h.agentId}/status`;
  hostile.clearScripts();
  hostile.script(
    { method: "GET", path: /\/stream$/ },
    {
      body: [event({ id: "1", event: "snapshot", data: { workspaces: [] } })],
    },
  );
  hostile.script({ method: "POST", path: /\/status$/ }, { status: 307, headers: { location } });
  const agent = await h.startAgent({ controlPlaneUrl: hostile.url, policyFile, signingPublicKeys: "" });
  try {
    await waitFor(`a status failure naming ${location}`, () =>
      logged(
        h.logs,
        new RegExp(`POST /v1/agents/${h.agentId}/status: .*http 307, a redirect to "${literal(location)}"`),
        /status report failed/,
      ),
    );
    assert.ok(hostile.requests.some((r) => r.method === "POST" && r.path.endsWith("/status")));
    assert.equal(elsewhere.requests.length, 0, "the other host never saw a request");
    await assertAlive(agent);
  } finally {
    await agent.stop();
  }
});
