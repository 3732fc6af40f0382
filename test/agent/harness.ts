// What every agent integration test stands on: a real cluster, the reference control plane, the
// agent's RBAC from the chart's files and the chart's confinement policies (every test runs confined),
// and agents started in-process (startAgent) or as child processes (the agent image's ENTRYPOINT and
// ENV from the Dockerfile, running the bundle agent/dist/main.js), always with the agent's own
// ServiceAccount kubeconfig.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { createKubeClient, type KubeClient } from "@meridian/shared/kube/client";
import { createLogger } from "@meridian/shared/log";
import { type AgentHandle, startAgent } from "../../agent/src/agent.ts";
import { type AgentConfig, loadConfig } from "../../agent/src/config.ts";
import type { Cluster } from "../cluster/index.ts";
import { startCluster } from "../cluster/index.ts";
import { type ControlPlane, startControlPlane } from "../control-plane/index.ts";
import { TEST_SIGNING_PUBLIC_KEY } from "../control-plane/signing.ts";
import { builtImageRuntime } from "../images/runtime.ts";
import { APPLY, type Confinement, installConfinement, tryWrite, waitUntilEnforced } from "./confinement.ts";
import { type AgentRbac, installAgentRbac } from "./rbac.ts";

export const REPO = fileURLToPath(new URL("../../", import.meta.url));

export interface Harness {
  cluster: Cluster;
  cp: ControlPlane;
  rbac: AgentRbac;
  /** The chart's ValidatingAdmissionPolicies, installed for the agent's ServiceAccount and enforced. */
  confinement: Confinement;
  /** Admin client, for the test's own reads and for imitating a human with kubectl. */
  admin: KubeClient;
  dir: string;
  agentId: string;
  tokenFile: string;
  /** Every token handed out: the agent's and the workspace credentials seen in Secrets. */
  tokens: Set<string>;
  /** JSON log lines of every agent started in-process, for the redaction test. */
  logs: string[];
  /** Flags for `loadConfig` (the same names as `meridian-agent run`). */
  flags(extra?: Record<string, string>): Record<string, string>;
  startAgent(extra?: Record<string, string>): Promise<AgentHandle>;
  spawnAgent(extra?: Record<string, string>): ChildAgent;
  writePolicy(policy: Record<string, unknown>): Promise<string>;
  /**
   * Replaces the control plane by one on the same port with an empty database (a control plane
   * that lost its data), registers the agent there and writes its new token to the token file.
   */
  replaceControlPlane(): Promise<ControlPlane>;
  stop(): Promise<void>;
}

export interface ChildAgent {
  proc: ChildProcess;
  identity: string;
  healthAddr: string;
  lines: string[];
  exited: Promise<number | null>;
}

export async function startHarness(
  opts: { nodes?: number; agentId?: string; tokenTtlSeconds?: number } = {},
): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), "meridian-agent-test-"));
  const image = await builtImageRuntime("agent");
  const cluster = await startCluster({ nodes: opts.nodes ?? 0 });
  let cp: ControlPlane | undefined;
  try {
    cp = await startControlPlane({
      dbPath: join(dir, "cp.db"),
      keepAliveMs: 1000,
      workspaceTokenTtlSeconds: opts.tokenTtlSeconds ?? 900,
    });
    const rbac = await installAgentRbac(cluster);
    const confinement = await installConfinedAgent(cluster, rbac);
    const admin = await createKubeClient({ kubeconfig: cluster.kubeconfigPath });
    const agentId = opts.agentId ?? "cluster-1";
    const { token } = await cp.admin.createAgent(agentId);
    const tokenFile = join(dir, "agent-token");
    await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
    const logs: string[] = [];
    const tokens = new Set([token]);
    let controlPlane = cp;
    let n = 0;
    const children: ChildAgent[] = [];
    const agents: AgentHandle[] = [];
    const h: Harness = {
      cluster,
      cp,
      rbac,
      confinement,
      admin,
      dir,
      agentId,
      tokenFile,
      tokens,
      logs,
      flags: (extra = {}) => ({
        controlPlaneUrl: controlPlane.url,
        agentId,
        tokenFile,
        kubeconfig: rbac.kubeconfig,
        namespace: rbac.namespace,
        workspaceAgentClusterRole: rbac.clusterRoles.workspaceAgent,
        flinkClusterRole: rbac.clusterRoles.flink,
        drainClusterRole: rbac.clusterRoles.drain,
        serviceAccountName: rbac.serviceAccount,
        podName: `agent-${++n}`,
        healthAddr: "127.0.0.1:0",
        leaseDurationMs: "3000",
        renewDeadlineMs: "2000",
        retryPeriodMs: "300",
        resyncPeriodMs: "600000",
        logLevel: "info",
        // The reference control plane signs with the test key: the suite runs signed.
        signingPublicKeys: TEST_SIGNING_PUBLIC_KEY,
        ...extra,
      }),
      startAgent: async (extra = {}) => {
        const config: AgentConfig = loadConfig({ flags: h.flags(extra), env: {} });
        const logger = createLogger({
          component: "meridian-agent",
          level: "debug",
          destination: collect(logs),
        });
        const agent = await startAgent(config, { logger, processMetrics: false });
        agents.push(agent);
        return agent;
      },
      spawnAgent: (extra = {}) => {
        const flags = h.flags({ ...extra });
        const port = 20000 + Math.floor(Math.random() * 20000);
        flags.healthAddr = `127.0.0.1:${port}`;
        const args = [...image.nodeArgs, image.script, "run"];
        for (const [k, v] of Object.entries(flags))
          args.push(`--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}=${v}`);
        // The image's ENV, and NODE_OPTIONS from MERIDIAN_AGENT_NODE_OPTIONS for experiments.
        const env: Record<string, string | undefined> = { ...image.env, PATH: process.env.PATH };
        if (process.env.MERIDIAN_AGENT_NODE_OPTIONS)
          env.NODE_OPTIONS = process.env.MERIDIAN_AGENT_NODE_OPTIONS;
        const proc = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env });
        const lines: string[] = [];
        const onData = (b: Buffer) => {
          for (const l of b.toString().split("\n")) {
            if (!l.trim()) continue;
            lines.push(l);
            logs.push(l);
          }
        };
        proc.stdout?.on("data", onData);
        proc.stderr?.on("data", onData);
        const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
        const child = { proc, identity: flags.identity ?? "", healthAddr: flags.healthAddr, lines, exited };
        children.push(child);
        return child;
      },
      replaceControlPlane: async () => {
        const port = controlPlane.port;
        await controlPlane.stop();
        controlPlane = await startControlPlane({
          dbPath: join(dir, `cp-${++n}.db`),
          port,
          keepAliveMs: 1000,
        });
        h.cp = controlPlane;
        // A keep-alive socket to the control plane just stopped may still be pooled: one retry.
        const register = () => controlPlane.admin.createAgent(agentId);
        const { token: fresh } = await register().catch(async () => {
          await sleep(100);
          return register();
        });
        tokens.add(fresh);
        await writeFile(tokenFile, `${fresh}\n`, { mode: 0o600 });
        return controlPlane;
      },
      writePolicy: async (policy) => {
        const path = join(dir, `policy-${++n}.yaml`);
        await writeFile(path, JSON.stringify(policy));
        return path;
      },
      stop: async () => {
        await Promise.allSettled(agents.map((a) => a.stop()));
        if (process.env.MERIDIAN_KEEP_AGENT_LOGS) {
          const out = join(REPO, ".cache", "agent-test-logs");
          await mkdir(out, { recursive: true });
          await writeFile(join(out, `${process.pid}.log`), `${logs.join("\n")}\n`);
        }
        for (const c of children) if (c.proc.exitCode === null) c.proc.kill("SIGKILL");
        await Promise.allSettled(children.map((c) => c.exited));
        await admin.close();
        await controlPlane.stop();
        await cluster.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
    return h;
  } catch (err) {
    await cp?.stop();
    await cluster.stop();
    throw err;
  }
}

/** The chart's confinement policies for the agent's ServiceAccount, enforced before any agent starts. */
async function installConfinedAgent(cluster: Cluster, rbac: AgentRbac): Promise<Confinement> {
  const confinement = await installConfinement(cluster, {
    namespace: rbac.namespace,
    serviceAccount: rbac.serviceAccount,
  });
  const agent = await createKubeClient({ kubeconfig: rbac.kubeconfig });
  try {
    // A write its RBAC allows anywhere (a Secret of its own name), so that only the policy refuses it.
    const name = "meridian-workspace-credential";
    const probe = { apiVersion: "v1", kind: "Secret", metadata: { name } };
    await waitUntilEnforced(confinement.agentPolicy, () =>
      tryWrite(agent, "PATCH", `/api/v1/namespaces/default/secrets/${name}`, probe, {
        dryRun: true,
        contentType: APPLY,
      }),
    );
  } finally {
    await agent.close();
  }
  return confinement;
}

function collect(into: string[]): NodeJS.WritableStream {
  return new Writable({
    write(chunk, _enc, cb) {
      for (const l of chunk.toString().split("\n")) if (l.trim()) into.push(l);
      cb();
    },
  });
}

/** Polls `cond` every 25 ms until it is truthy; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  cond: () => T | Promise<T>,
  timeoutMs = 15_000,
): Promise<Exclude<T, undefined | null | false | 0 | "">> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v as Exclude<T, undefined | null | false | 0 | "">;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`,
      );
    await sleep(25);
  }
}

/** Holds for `ms` checking that `cond` stays true. */
export async function holds(what: string, cond: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!(await cond())) throw new Error(`${what} stopped holding`);
    await sleep(50);
  }
}
