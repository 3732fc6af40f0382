// The catalogue's hostile HTTP behaviour on the stream and the status POST
// (test/hostile/catalogue/http.ts), against real agents on the real local cluster. Each input gets a
// fresh agent (so no backoff carries over from the one before): each failure is named in a log line,
// retried with backoff but never in a tight loop (or, when it cannot succeed unchanged, only after the
// long backoff); the agent stays healthy, nothing in the cluster changes, memory stays bounded, and no
// token reaches a log line — also when the control plane echoes it back.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type Harness, startHarness } from "../agent/harness.ts";
import { checkHttpInput, scriptInput } from "./catalogue/http-runner.ts";
import { http } from "./catalogue/index.ts";
import type { HttpInput } from "./catalogue/types.ts";
import { diff, type Inventory, inventory } from "./inventory.ts";
import { event, type HostileServer, startHostileServer } from "./server.ts";
import { POLICY } from "./support.ts";

let h: Harness;
let hostile: HostileServer;
let policyFile: string;
let baseline: Inventory;

before(async () => {
  h = await startHarness();
  hostile = await startHostileServer();
  policyFile = await h.writePolicy(POLICY);
  baseline = await inventory(h.admin);
});
after(async () => {
  await hostile?.close();
  await h?.stop();
});

const streams = http.filter((i) => i.route === "stream");
const statuses = http.filter((i) => i.route === "status");

/** A fresh agent (no backoff carried over) while `input` answers its route; the common checks after it. */
async function round(input: HttpInput, withSnapshot: boolean): Promise<void> {
  hostile.clearScripts();
  scriptInput(hostile, input);
  const check = { hostile, logs: h.logs, sinceSeq: hostile.requests.length, sinceLog: h.logs.length };
  const rss = process.memoryUsage().rss;
  const opened = withSnapshot ? hostile.nextStream() : undefined;
  // Unpinned: the hostile control plane's events are accepted (decision 41).
  const agent = await h.startAgent({
    controlPlaneUrl: hostile.url,
    policyFile,
    statusHeartbeatMs: "1000",
    signingPublicKeys: "",
  });
  try {
    // The agent reports status once it has a snapshot: the status inputs get one.
    if (opened) await (await opened).send(event({ id: "1", event: "snapshot", data: { workspaces: [] } }));
    await checkHttpInput(check, input);
    assert.equal((await fetch(`${agent.healthUrl}/healthz`)).status, 200, "/healthz");
    assert.ok(process.memoryUsage().rss - rss < 256 * 1024 * 1024, "memory stays bounded");
  } finally {
    await agent.stop();
  }
  assert.deepEqual(diff(baseline, await inventory(h.admin)), { added: [], removed: [], changed: [] });
  assert.deepEqual(Object.keys(Object.prototype), [], "Object.prototype untouched");
}

for (const input of streams) test(input.name, () => round(input, false));
for (const input of statuses) test(input.name, () => round(input, true));

test("no token in any log line", () => {
  assert.ok(h.logs.length > 0);
  for (const line of h.logs)
    for (const s of h.tokens) assert.ok(!line.includes(s), `a log line holds a token: ${line.slice(0, 300)}`);
});
