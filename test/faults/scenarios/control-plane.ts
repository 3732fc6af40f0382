// Faults of the control plane (the reference control plane, a process of its own): killed, down for
// longer than a workspace credential lives, restarted without its data, and the agent's token revoked.
import type { DeploymentSpec, WorkspaceSpec } from "@meridian/shared/protocol/index";
import type { DeploymentBody, WorkspaceBody } from "../../control-plane/index.ts";
import { createTokenSecret } from "../../e2e/chart.ts";
import { type Scenario, sleep } from "../scenario.ts";
import { WORKSPACE_TOKEN_TTL_SECONDS } from "../system.ts";
import { AGENT_ID, WS } from "../workload.ts";

export const controlPlaneScenarios: Scenario[] = [
  {
    name: "control-plane-sigkill-restart",
    proves:
      "a control plane SIGKILLed and back 15 s later changes nothing in the cluster; both agents reconnect, resync and report again",
    bounded: true,
    async run(ctx) {
      await ctx.sys.cp.kill("SIGKILL");
      await sleep(15_000);
      await ctx.sys.cp.start();
    },
  },
  {
    name: "control-plane-down-past-credential-lifetime",
    proves: `the control plane down for longer than a workspace credential lives (${WORKSPACE_TOKEN_TTL_SECONDS} s): the data plane runs on untouched, and once it is back the agent mints a fresh credential and the workspace agent reconnects with it`,
    async run(ctx) {
      await ctx.sys.cp.kill("SIGKILL");
      await sleep((WORKSPACE_TOKEN_TTL_SECONDS + 10) * 1000);
      await ctx.sys.cp.start();
    },
  },
  {
    name: "agent-token-revoked-then-replaced",
    proves:
      "the agent's token revoked while it runs (rotated at the control plane): it is refused, keeps the cluster as it is, does not crash-loop, and picks up the new token from its Secret without a restart",
    async run(ctx) {
      const { token } = await ctx.sys.cp.admin.createAgent(AGENT_ID);
      ctx.knownToken("rotated agent token", token);
      await ctx.sys.cp.admin.faults.dropStreams({ stream: "agent" });
      await sleep(20_000);
      await createTokenSecret(ctx.sys.cluster, token);
    },
  },
  {
    name: "control-plane-lost-its-data",
    proves:
      "a control plane that restarts with an empty database (a vendor's data loss), then has its data restored: the workspace is only marked orphaned, nothing is deleted, and it converges on the restored specs (whose generations start again at 1)",
    async run(ctx) {
      const admin = ctx.sys.cp.admin;
      const strip = <T extends object>(o: T, ...keys: string[]) =>
        Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));
      const workspace = strip(
        await admin.getWorkspaceSpec(AGENT_ID, WS),
        "id",
        "generation",
      ) as WorkspaceBody;
      const deployments = (await admin.listDeployments(WS)).map((d: DeploymentSpec) => ({
        name: d.name,
        body: strip(d, "name", "generation") as DeploymentBody,
      }));
      await ctx.sys.cp.kill("SIGKILL");
      await ctx.sys.cp.start({ wipe: true });
      const { token } = await admin.createAgent(AGENT_ID);
      ctx.knownToken("agent token after the data loss", token);
      await createTokenSecret(ctx.sys.cluster, token);
      await sleep(30_000);
      const status = await admin.getAgentStatus(AGENT_ID);
      ctx.note(
        `while empty the agent said: ${status?.workspaces.map((w) => `${w.id} ${w.phase}`).join(", ") || "nothing"}`,
      );
      await admin.putWorkspace(AGENT_ID, WS, workspace as WorkspaceSpec as WorkspaceBody);
      for (const d of deployments) await admin.putDeployment(WS, d.name, d.body);
    },
  },
];
