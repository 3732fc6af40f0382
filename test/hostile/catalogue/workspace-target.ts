// One real workspace agent on the real local cluster (with the node simulator), its workspace
// prepared as the agent would, connected to the hostile control plane instead of the reference one:
// the target of the catalogue's workspace-stream inputs, with the same between-batch and end checks
// as the agent's target (agent-target.ts).

import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { PinnedKeys } from "@meridian/shared/controlplane/verify";
import { createLogger } from "@meridian/shared/log";
import type { WorkspaceAgentStatus } from "@meridian/shared/protocol/index";
import type { WorkspaceAgent } from "@meridian/workspace-agent/agent";
import { waitFor } from "../../agent/harness.ts";
import {
  createWorkspace,
  type Env,
  startAgent,
  startEnv,
  type Workspace,
} from "../../workspace-agent/harness.ts";
import { diff, type Inventory, inventory } from "../inventory.ts";
import { event, startHostileServer } from "../server.ts";
import { deployment } from "./bytes.ts";
import { JAR_POLICY } from "./deployments.ts";
import type { ReportedStatus, StreamTarget } from "./stream-runner.ts";

export interface WorkspaceTarget extends StreamTarget {
  env: Env;
  ws: Workspace;
  agent: WorkspaceAgent;
  baseline: Inventory;
  /** Creates deployment `name` with a fresh event, waits until it is applied, and makes it the new baseline. */
  converge(name: string): Promise<void>;
  assertNoSecretLogged(): void;
  stop(): Promise<void>;
}

export async function startWorkspaceTarget(): Promise<WorkspaceTarget> {
  const env = await startEnv();
  const hostile = await startHostileServer();
  const ws = await createWorkspace(env, "hostile");
  const logs: string[] = [];
  const sink = new PassThrough();
  sink.on("data", (chunk: Buffer) => logs.push(...chunk.toString("utf8").split("\n").filter(Boolean)));
  const opened = hostile.nextStream();
  const agent = await startAgent(
    env,
    ws,
    // Unpinned: the hostile control plane plays one whose events are accepted (decision 41).
    { controlPlaneUrl: hostile.url, flinkAllowedJarURIs: JAR_POLICY, signingPublicKeys: new PinnedKeys([]) },
    { logger: createLogger({ component: "meridian-workspace-agent", level: "debug", destination: sink }) },
  );
  const stream = await opened;
  await stream.send(event({ id: "100", event: "snapshot", data: { workspaceId: ws.id, deployments: [] } }));
  const statusPath = `/v1/workspaces/${ws.id}/status`;
  const latest = () =>
    hostile.statuses.filter((s) => s.path === statusPath).at(-1)?.body as WorkspaceAgentStatus | undefined;
  const listed: unknown[] = [];
  const t: WorkspaceTarget = {
    env,
    ws,
    agent,
    hostile,
    admin: env.admin,
    logs,
    healthUrl: agent.healthUrl,
    rejectedMsg: /^stream event refused$/,
    baseline: {},
    workspaceId: ws.id,
    status: (): ReportedStatus | undefined => {
      const s = latest();
      return s && { ...s, items: s.deployments.map((d) => ({ ...d, key: d.name })) };
    },
    idle: () => agent.controller.idle(),
    listed: () => [...listed],
    converge: async (name) => {
      const spec = deployment(name);
      const last = BigInt(latest()?.lastEventId ?? "100");
      const s = await hostile.nextStream({ existing: true });
      await s.send(
        event({ id: (last + 1n).toString(), event: "deployment.upsert", data: { deployment: spec } }),
      );
      await waitFor(
        `deployment ${name} applied`,
        () =>
          latest()?.deployments.find(
            (d) =>
              d.name === name && d.conditions.some((c) => c.type === "SpecAligned" && c.status === "True"),
          ),
        60_000,
      );
      await t.idle();
      const now = await inventory(env.admin);
      const changes = diff(t.baseline, now);
      assert.deepEqual(changes.removed, [], `creating ${name} removed nothing`);
      assert.deepEqual(changes.changed, [], `creating ${name} changed nothing else`);
      assert.ok(changes.added.length > 0, `${name}'s objects created`);
      assert.deepEqual(
        changes.added.filter((k) => !k.includes(`/${name}-`)),
        [],
        `only ${name}'s objects added`,
      );
      listed.push(spec);
      t.baseline = now;
    },
    assertNoSecretLogged: () => {
      const secrets = [env.agentToken, ws.credential.token, ...hostile.tokens];
      for (const line of logs)
        for (const s of secrets)
          assert.ok(!line.includes(s), `a log line holds a token: ${line.slice(0, 300)}`);
    },
    stop: async () => {
      await agent.stop();
      await hostile.close();
      await env.stop();
    },
  };
  await waitFor("the first status", () => latest()?.lastEventId === "100", 30_000);
  t.baseline = await inventory(env.admin);
  return t;
}
