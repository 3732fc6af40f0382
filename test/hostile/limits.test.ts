// Inputs over the protocol's size limits (issue 15, defect 5), against the real agent and a real
// API server, from a hostile control plane: a 10 MB event, a spec over a field limit, JSON nested
// past the limit, a snapshot over its limit. Each is refused with a named reason in a log line and
// in the status sent upward, nothing in the cluster changes (an inventory before and after), the
// stream stays up, and a valid event after them is applied.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { AgentStatus } from "@meridian/shared/protocol/index";
import type { AgentHandle } from "../../agent/src/agent.ts";
import { type Harness, startHarness, waitFor } from "../agent/harness.ts";
import { diff, inventory, namespaces } from "./inventory.ts";
import { event, type HostileServer, type OpenStream, startHostileServer } from "./server.ts";
import { literal, logged, POLICY } from "./support.ts";

let h: Harness;
let hostile: HostileServer;
let agent: AgentHandle;
let stream: OpenStream;

const ws = (id: string, extra: object = {}) => ({
  id,
  generation: 1,
  quota: { cpu: "1", memory: "1Gi" },
  ...extra,
});
const MiB = 1024 * 1024;

before(async () => {
  h = await startHarness();
  const policyFile = await h.writePolicy(POLICY);
  hostile = await startHostileServer();
  const opened = hostile.nextStream();
  // Unpinned: the hostile control plane's events are accepted (decision 41).
  agent = await h.startAgent({ controlPlaneUrl: hostile.url, policyFile, signingPublicKeys: "" });
  stream = await opened;
  await stream.send(event({ id: "1", event: "snapshot", data: { workspaces: [ws("good")] } }));
  await waitFor("namespace mw-good", () => h.admin.getOrUndefined("/api/v1/namespaces/mw-good"));
  await agent.controller()?.idle();
});
after(async () => {
  await hostile?.close();
  await h?.stop();
});

/** The latest status the agent posted. */
const latestStatus = (): AgentStatus | undefined =>
  hostile.statuses.filter((s) => s.path === `/v1/agents/${h.agentId}/status`).at(-1)?.body as AgentStatus;

/** Sends one hostile event and waits until the status upward reports it refused; returns the reason. */
async function refused(id: string, bytes: string): Promise<string> {
  await stream.send(bytes);
  const status = await waitFor(
    `the status to report event ${id} refused`,
    () => {
      const s = latestStatus();
      return s?.rejectedEvents.last?.eventId === id ? s : undefined;
    },
    20_000,
  );
  assert.equal(status.lastEventId, id, "the stream moved past the refused event");
  const reason = status.rejectedEvents.last?.error ?? "";
  const line = logged(h.logs, new RegExp(literal(reason.slice(0, 60))), /event rejected/);
  assert.equal(line?.eventId, id, "a log line names the event and the reason");
  return reason;
}

test("inputs over the limits are refused with named reasons; nothing changes; a valid event then applies", async () => {
  const before = await inventory(h.admin);
  assert.deepEqual(namespaces(before), ["mw-good"]);

  // A 10 MB event: a valid workspace padded with an unknown field (which the schema would ignore).
  const huge = event({
    id: "2",
    event: "workspace.upsert",
    data: { workspace: ws("huge", { pad: "x".repeat(10 * MiB) }) },
  });
  assert.match(await refused("2", huge), /^event "workspace.upsert" exceeds the 1 MiB limit of one event/);

  // A spec whose image (allowed by the local policy's registry) is longer than the limit.
  const image = `ghcr.io/meridian-dev/${"a".repeat(600)}:1`;
  const long = event({
    id: "3",
    event: "workspace.upsert",
    data: { workspace: ws("long", { workspaceAgent: { image } }) },
  });
  assert.match(await refused("3", long), /workspace\.workspaceAgent\.image: .*512/);

  // JSON nested far deeper than any protocol message.
  const nested = `{"workspace":${JSON.stringify(ws("deep")).slice(0, -1)},"x":${"[".repeat(100)}${"]".repeat(100)}}}`;
  const deep = event({ id: "4", event: "workspace.upsert", data: nested });
  assert.match(await refused("4", deep), /nests objects and arrays deeper than the limit of 32/);

  // A snapshot over its own limit that lists nothing: applied, it would mark every workspace orphaned.
  const big = event({ id: "5", event: "snapshot", data: { workspaces: [], pad: "y".repeat(9 * MiB) } });
  assert.match(await refused("5", big), /^event "snapshot" exceeds the 8 MiB limit of a snapshot/);

  assert.deepEqual(diff(before, await inventory(h.admin)), { added: [], removed: [], changed: [] });
  assert.equal(hostile.requests.filter((r) => r.path.endsWith("/stream")).length, 1, "one stream throughout");

  await stream.send(event({ id: "6", event: "workspace.upsert", data: { workspace: ws("after") } }));
  await waitFor("namespace mw-after", () => h.admin.getOrUndefined("/api/v1/namespaces/mw-after"));
  await agent.controller()?.idle();
  const changes = diff(before, await inventory(h.admin));
  assert.deepEqual(changes.removed, []);
  assert.deepEqual(changes.changed, [], "mw-good was not touched");
  assert.deepEqual(
    changes.added.filter((k) => !k.includes("mw-after")),
    [],
    "only the valid workspace's objects were added",
  );
  assert.equal(agent.isLeader(), true);
  assert.equal((await fetch(`${agent.healthUrl}/healthz`)).status, 200);
});
