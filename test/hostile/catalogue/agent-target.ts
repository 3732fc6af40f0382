// One real agent on the real local cluster, connected to the hostile control plane, ready for the
// catalogue's agent-stream inputs: the foreign namespaces some inputs collide with, a first snapshot,
// and helpers for the checks between batches (a good workspace created after each converges) and at
// the end (no token in any log line).
import assert from "node:assert/strict";
import type { AgentStatus } from "@meridian/shared/protocol/index";
import type { AgentHandle } from "../../../agent/src/agent.ts";
import { type Harness, startHarness, waitFor } from "../../agent/harness.ts";
import { diff, type Inventory, inventory } from "../inventory.ts";
import { event, startHostileServer } from "../server.ts";
import { POLICY } from "../support.ts";
import { workspace } from "./bytes.ts";
import type { ReportedStatus, StreamTarget } from "./stream-runner.ts";
import { FOREIGN_NAMESPACES } from "./workspaces.ts";

export interface AgentTarget extends StreamTarget {
  h: Harness;
  agent: AgentHandle;
  /** What the cluster must still look like after the next input. */
  baseline: Inventory;
  /** Creates workspace `id` with a fresh event, waits until it is applied, and makes it the new baseline. */
  converge(id: string): Promise<void>;
  /** Fails if any log line holds a token the agent sent or was handed. */
  assertNoSecretLogged(): void;
  stop(): Promise<void>;
}

export async function startAgentTarget(): Promise<AgentTarget> {
  const h = await startHarness();
  const hostile = await startHostileServer();
  for (const ns of FOREIGN_NAMESPACES)
    await h.admin.request({
      method: "POST",
      path: "/api/v1/namespaces",
      body: { apiVersion: "v1", kind: "Namespace", metadata: { name: ns.name, labels: ns.labels } },
    });
  const policyFile = await h.writePolicy(POLICY);
  const opened = hostile.nextStream();
  // Unpinned: the hostile control plane plays one whose events are accepted (a compromised vendor
  // holds the signing key), so the catalogue checks the defences behind the signature (decision 41).
  const agent = await h.startAgent({
    controlPlaneUrl: hostile.url,
    policyFile,
    statusHeartbeatMs: "2000",
    signingPublicKeys: "",
  });
  const stream = await opened;
  await stream.send(event({ id: "100", event: "snapshot", data: { workspaces: [] } }));
  const statusPath = `/v1/agents/${h.agentId}/status`;
  const latest = () =>
    hostile.statuses.filter((s) => s.path === statusPath).at(-1)?.body as AgentStatus | undefined;
  const listed: unknown[] = [];
  const t: AgentTarget = {
    h,
    agent,
    hostile,
    admin: h.admin,
    logs: h.logs,
    healthUrl: agent.healthUrl,
    rejectedMsg: /^event rejected/,
    baseline: {},
    status: (): ReportedStatus | undefined => {
      const s = latest();
      return s && { ...s, items: s.workspaces.map((w) => ({ ...w, key: w.id })) };
    },
    idle: async () => {
      await agent.controller()?.idle();
    },
    listed: () => [...listed],
    converge: async (id) => {
      const spec = workspace(id);
      const last = BigInt(latest()?.lastEventId ?? "100");
      const s = await hostile.nextStream({ existing: true });
      await s.send(
        event({ id: (last + 1n).toString(), event: "workspace.upsert", data: { workspace: spec } }),
      );
      await waitFor(`workspace ${id} applied`, () =>
        latest()?.workspaces.find(
          (w) => w.id === id && w.conditions.some((c) => c.type === "SpecAligned" && c.status === "True"),
        ),
      );
      await t.idle();
      const now = await inventory(h.admin);
      const changes = diff(t.baseline, now);
      assert.deepEqual(changes.removed, [], `creating ${id} removed nothing`);
      assert.deepEqual(changes.changed, [], `creating ${id} changed nothing else`);
      assert.ok(changes.added.includes(`namespace/mw-${id}`), `namespace mw-${id} created`);
      assert.deepEqual(
        changes.added.filter((k) => !k.includes(`mw-${id}`)),
        [],
        `only ${id}'s objects added`,
      );
      listed.push(spec);
      t.baseline = now;
    },
    assertNoSecretLogged: () => {
      const secrets = [...h.tokens, ...hostile.tokens];
      assert.ok(secrets.length > 1, "tokens to look for");
      for (const line of h.logs)
        for (const s of secrets)
          assert.ok(!line.includes(s), `a log line holds a token: ${line.slice(0, 300)}`);
    },
    stop: async () => {
      await hostile.close();
      await h.stop();
    },
  };
  await waitFor("the first status", () => latest()?.lastEventId === "100");
  t.baseline = await inventory(h.admin);
  return t;
}
