// Faults of the control plane (the reference control plane, a process of its own): killed, down for
// longer than a workspace credential lives, restarted without its data, the agent's token revoked, and
// a workspace credential revoked while the workspace agent runs.
import { CREDENTIAL_REQUEST_CONFIG_MAP } from "@meridian/shared/contract/credential-request";
import type { DeploymentSpec, WorkspaceSpec } from "@meridian/shared/protocol/index";
import type { DeploymentBody, WorkspaceBody } from "../../control-plane/index.ts";
import { createTokenSecret } from "../../e2e/chart.ts";
import { getJson, waitFor } from "../../e2e/kube.ts";
import { WORKSPACE_CREDENTIAL_SECRET } from "../../e2e/observe.ts";
import { type Scenario, type ScenarioContext, sleep } from "../scenario.ts";
import { WORKSPACE_TOKEN_TTL_SECONDS } from "../system.ts";
import { AGENT_ID, WS, WS_NS } from "../workload.ts";

/** The workspace credential in the workspace's Secret: its token and expiry (decoded). */
async function storedCredential(
  ctx: ScenarioContext,
): Promise<{ token: string; expiresAt: string } | undefined> {
  const secret = await getJson<{ data?: Record<string, string> }>(ctx.sys.cluster, [
    "secret",
    "-n",
    WS_NS,
    WORKSPACE_CREDENTIAL_SECRET,
  ]);
  const dec = (k: string) =>
    Buffer.from(secret?.data?.[k] ?? "", "base64")
      .toString("utf8")
      .trim();
  return secret ? { token: dec("token"), expiresAt: dec("expiresAt") } : undefined;
}

/** The workspace agent's request for a new credential (shared/src/contract/credential-request.ts). */
async function credentialRequest(ctx: ScenarioContext): Promise<Record<string, string> | undefined> {
  const cm = await getJson<{ data?: Record<string, string> }>(ctx.sys.cluster, [
    "configmap",
    "-n",
    WS_NS,
    CREDENTIAL_REQUEST_CONFIG_MAP,
  ]);
  return cm?.data;
}

/** Waits until the Secret holds another credential than `before`; notes how long it took. */
async function credentialReplaced(
  ctx: ScenarioContext,
  before: string,
  since: number,
  what: string,
): Promise<void> {
  const next = await waitFor(
    `a new workspace credential in ${WS_NS}/${WORKSPACE_CREDENTIAL_SECRET}`,
    async () => {
      const c = await storedCredential(ctx);
      return c?.token && c.token !== before ? c : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 200 },
  );
  ctx.knownToken(what, next.token);
  ctx.note(`${what}: in the Secret ${((Date.now() - since) / 1000).toFixed(1)} s later`);
}

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
      "a control plane that restarts with an empty database (a vendor's data loss), then has its data restored: the workspace is only marked orphaned, nothing is deleted, the restored specs (generations from 1 again, in a new epoch) take the workspace and its deployments over unchanged, and the workspace agent gets a credential the new control plane knows",
    async run(ctx) {
      const admin = ctx.sys.cp.admin;
      const strip = <T extends object>(o: T, ...keys: string[]) =>
        Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));
      const workspace = strip(
        await admin.getWorkspaceSpec(AGENT_ID, WS),
        "id",
        "generation",
        "epoch",
      ) as WorkspaceBody;
      const deployments = (await admin.listDeployments(WS)).map((d: DeploymentSpec) => ({
        name: d.name,
        body: strip(d, "name", "generation", "epoch") as DeploymentBody,
      }));
      const old = await storedCredential(ctx);
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
      const restoredAt = Date.now();
      await admin.putWorkspace(AGENT_ID, WS, workspace as WorkspaceSpec as WorkspaceBody);
      for (const d of deployments) await admin.putDeployment(WS, d.name, d.body);
      // The workspace agent's credential was minted by the control plane that lost its data.
      if (old) await credentialReplaced(ctx, old.token, restoredAt, "workspace credential after the restore");
    },
    async outcome(ctx) {
      const ws = (await ctx.sys.cp.admin.getAgentStatus(AGENT_ID))?.workspaces.find((w) => w.id === WS);
      const spec = await ctx.sys.cp.admin.getWorkspaceSpec(AGENT_ID, WS);
      if (ws?.observedGeneration !== spec.generation)
        return `observedGeneration ${ws?.observedGeneration}, not the restored generation ${spec.generation}`;
      // Both agents hold the restored epoch now (not just equal generation numbers by chance).
      type Annotated = { metadata?: { annotations?: Record<string, string> } };
      const ns = await getJson<Annotated>(ctx.sys.cluster, ["namespace", WS_NS]);
      if (ns?.metadata?.annotations?.["meridian.dev/epoch"] !== String(spec.epoch))
        return `namespace ${WS_NS} records epoch ${ns?.metadata?.annotations?.["meridian.dev/epoch"]}, not the restored ${spec.epoch}`;
      for (const d of await ctx.sys.cp.admin.listDeployments(WS)) {
        const cm = await getJson<Annotated>(ctx.sys.cluster, [
          "configmap",
          "-n",
          WS_NS,
          `${d.name}-flink-config`,
        ]);
        const state = JSON.parse(cm?.metadata?.annotations?.["meridian.dev/lifecycle-state"] ?? "{}");
        if (state.spec?.epoch !== d.epoch || state.spec?.generation !== d.generation)
          return `deployment ${d.name} holds generation ${state.spec?.generation} of epoch ${state.spec?.epoch}, not ${d.generation} of the restored ${d.epoch}`;
      }
      return undefined;
    },
  },
  {
    name: "connect-proxy-killed-mid-stream",
    proves:
      "the HTTP CONNECT proxy between both agents and the control plane (HTTPS, a certificate of the campaign CA) killed while their streams run, and back on its port 15 s later: both agents back off meanwhile, come back through it, and the data plane never notices",
    async run(ctx) {
      const p = ctx.sys.cpProxy;
      ctx.note(`${p.tunnels()} tunnels before the kill`);
      await p.kill();
      await sleep(15_000);
      await p.start();
    },
    async outcome(ctx) {
      // Both agents' stream and status requests go through it again: at least one tunnel each.
      const t = await waitFor(
        "two tunnels through the restarted proxy",
        async () => {
          const n = ctx.sys.cpProxy.tunnels();
          return n >= 2 ? n : undefined;
        },
        { timeoutMs: 60_000 },
      ).catch(() => ctx.sys.cpProxy.tunnels());
      ctx.note(`${t} tunnels through the restarted proxy`);
      return t >= 2 ? undefined : `only ${t} tunnel(s) through the restarted proxy`;
    },
  },
  {
    name: "workspace-credential-revoked",
    proves:
      "a workspace credential revoked at the control plane while the workspace agent runs: it is refused (401), the workspace agent asks the agent for a new one (ConfigMap meridian-credential-request), the agent mints it, the workspace agent picks it up from the Secret without a restart, and the data plane runs on untouched",
    async run(ctx) {
      const before = await storedCredential(ctx);
      if (!before?.token)
        throw new Error(`no workspace credential in ${WS_NS}/${WORKSPACE_CREDENTIAL_SECRET}`);
      const revokedAt = Date.now();
      const r = await ctx.sys.cp.admin.revokeWorkspaceCredentials(WS, before.token);
      ctx.note(`revoked ${r.revoked} credential, closed ${r.streamsClosed} stream(s)`);
      await credentialReplaced(ctx, before.token, revokedAt, "workspace credential after the revocation");
      const request = await credentialRequest(ctx);
      if (
        request?.refusedExpiresAt !== before.expiresAt ||
        Date.parse(request.refusedAt ?? "") < revokedAt - 1000
      )
        throw new Error(
          `the credential was replaced, but not on the workspace agent's request (ConfigMap ${CREDENTIAL_REQUEST_CONFIG_MAP}: ${JSON.stringify(request)})`,
        );
      await ctx.sys.cp.admin.waitForStreams(
        { stream: "workspace", target: WS, connectedAfter: new Date(revokedAt) },
        60_000,
      );
    },
  },
];
