// The whole system, end to end, on the local cluster: `helm install` the chart against the
// reference control plane, then a workspace and a Flink job created through the control plane's
// admin API, the logs, a `helm upgrade` that rolls the agent but not the job, and a `helm uninstall`
// that leaves workspaces and jobs running. Installed as a security-minded customer would: the control
// plane over HTTPS with its own CA, reached through an HTTPS proxy that wants a password, the Flink
// state in an S3 bucket with access keys, and every one of those secrets (the agent's token, the CA,
// the proxy URL, the storage keys) in a Secret made before `helm install`, none in the values; then
// every log and every status body of the run is searched for each secret used. The agent is given a
// one-time install token, which it exchanges for a short-lived credential and renews (every 80 s here);
// near the end the agent is revoked at the control plane and is cut off while its workspace agent and
// Flink pods keep running, and a new install token brings it back. Steps run in order on one
// system; a step after a failed one fails at once, naming it. Waits are generous and fail with the pod list and log tails.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, before, test } from "node:test";
import { rootCertificates } from "node:tls";
import type { V1Pod } from "@kubernetes/client-node";
import { createLogger } from "@meridian/shared/log";
import { paths } from "@meridian/shared/protocol/index";
import { Agent, fetch as undiciFetch } from "undici";
import { CertificateAuthority } from "../cluster/certs.ts";
import { type ConnectProxy, startConnectProxy } from "../cluster/connect-proxy.ts";
import { type S3Server, startS3Server, TEST_S3_CREDENTIALS } from "../cluster/s3/s3-server.ts";
import { AdminClient } from "../control-plane/index.ts";
import {
  AGENT_SELECTOR,
  applySecrets,
  createTokenSecret,
  helmInstall,
  helmUninstall,
  helmUpgrade,
  NAMESPACE,
} from "./chart.ts";
import { clusterDiagnostics, describePods, getJson, podLogTails, waitFor } from "./kube.ts";
import { assertNoCredential, type Credential, parseJsonLines } from "./logs.ts";
import {
  agentPods,
  flinkPods,
  holderPod,
  leaseHolder,
  podCommandLines,
  podName,
  podUid,
  readyPods,
  WORKSPACE_AGENT_DEPLOYMENT,
  workspaceAgentPods,
  workspaceToken,
} from "./observe.ts";
import { recordStatusHistory, type StatusHistory } from "./status-history.ts";
import { missingAgents, NotBuiltError, type System, startSystem } from "./system.ts";
import { exampleDeployment, workspaceBody, workspaceNamespace } from "./workload.ts";

const AGENT_ID = "e2e-cluster";
const WS = "e2e";
const WS_NS = workspaceNamespace(WS);
const DEPLOYMENT = "state-machine";
const SEC = 1000;
/** The Secrets the customer makes in the release namespace besides the token's, and in the workspace's. */
const CA_SECRET = "meridian-control-plane-ca";
const PROXY_SECRET = "meridian-proxy";
const STORAGE_SECRET = "s3-keys";
const BUCKET = "e2e-flink-state";
const PROXY_PASSWORD = `pp-${randomBytes(12).toString("hex")}`;
/** Lifetime of the agent's credentials and of the workspace credentials in this run. */
const CREDENTIAL_TTL_SECONDS = 120;
const S3_CREDENTIALS = {
  ...TEST_S3_CREDENTIALS,
  accessKeyId: `AKE2E${randomBytes(6).toString("hex").toUpperCase()}`,
  secretAccessKey: `sk-${randomBytes(18).toString("hex")}`,
};

let sys: System;
let dir: string;
/** The install tokens the agent was given (each used up by its first exchange). */
const installTokens: string[] = [];
let caPem: string;
let proxy: ConnectProxy;
let s3: S3Server;
let statuses: StatusHistory;
/** The admin API over HTTPS, trusting the control plane's CA. */
let admin: AdminClient;
/** Every workspace token seen in the credential Secret during the run. */
const workspaceTokens = new Set<string>();
/** Every agent credential seen in the agent's credential Secret during the run. */
const agentCredentials: string[] = [];
const AGENT_CREDENTIAL_SECRET = "meridian-agent-credential";

/** The agent's credential Secret as the agent keeps it (undefined before the first exchange). */
async function storedAgentCredential(): Promise<{ token: string; expiresAt: string } | undefined> {
  const s = await getJson<{ data?: Record<string, string> }>(sys.cluster, [
    "secret",
    "-n",
    NAMESPACE,
    AGENT_CREDENTIAL_SECRET,
  ]);
  const dec = (k: string) => Buffer.from(s?.data?.[k] ?? "", "base64").toString("utf8");
  if (!dec("token")) return undefined;
  if (!agentCredentials.includes(dec("token"))) agentCredentials.push(dec("token"));
  return { token: dec("token"), expiresAt: dec("expiresAt") };
}

/** One protocol request to the control plane (over its TLS, trusting its CA) with `token`; the status. */
async function protocolStatus(method: string, path: string, token: string): Promise<number> {
  const res = await undiciFetch(sys.cp.url + path, {
    method,
    headers: { authorization: `Bearer ${token}`, "meridian-protocol-version": "1" },
    dispatcher: trustingDispatcher,
  });
  await res.body?.cancel();
  return res.status;
}
let trustingDispatcher: Agent;
const cpLog = new PassThrough();
let cpLogText = "";
cpLog.on("data", (chunk: Buffer) => {
  cpLogText += chunk.toString("utf8");
});
let failedStep: string | undefined;
/** What the Flink deployment looked like when it first ran: must survive upgrade and uninstall. */
let flinkBefore: { names: string[]; uids: string[]; pids: number[]; jobId: string };

const installOpts = (logLevel = "info") => ({
  kubeconfig: sys.cluster.kubeconfigPath,
  dir,
  controlPlaneUrl: sys.cp.url,
  agentId: AGENT_ID,
  logLevel,
  extraValues: {
    customCA: { existingSecret: { name: CA_SECRET, key: "ca.crt" } },
    proxy: { existingSecret: { name: PROXY_SECRET, key: "url" } },
    policy: {
      storage: { allowedURIs: [`s3://${BUCKET}/`], s3: { endpoint: s3.endpoint, pathStyleAccess: true } },
    },
  },
});

const diagnose = () =>
  clusterDiagnostics(sys.cluster, [
    { namespace: NAMESPACE, selector: AGENT_SELECTOR },
    { namespace: WS_NS, selector: "app.kubernetes.io/part-of=meridian" },
  ]);
const wait = <T>(what: string, timeoutMs: number, check: Parameters<typeof waitFor<T>>[1]) =>
  waitFor(what, check, { timeoutMs, diagnose });

/** A step of the story; once one fails the rest fail at once instead of timing out one by one. */
function step(name: string, fn: () => Promise<void>): void {
  test(name, async () => {
    if (failedStep) throw new Error(`not attempted: the earlier step "${failedStep}" failed`);
    try {
      await fn();
    } catch (err) {
      failedStep = name;
      throw err;
    }
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "meridian-e2e-"));
  const ca = await CertificateAuthority.create(dir, "cp-ca", "meridian-e2e-control-plane-ca");
  const cert = await ca.issue({
    name: "cp",
    commonName: "control-plane",
    hosts: ["127.0.0.1"],
    usage: "server",
  });
  caPem = ca.cert.certPem;
  [sys, proxy, s3] = await Promise.all([
    startSystem({
      dir,
      dbPath: join(dir, "control-plane.db"),
      controlPlaneLogger: createLogger({ component: "control-plane", destination: cpLog }),
      controlPlaneTls: { cert: cert.certPem, key: cert.keyPem },
      workspaceTokenTtlSeconds: CREDENTIAL_TTL_SECONDS,
    }),
    startConnectProxy({ user: "meridian", password: PROXY_PASSWORD }),
    startS3Server({ dir: join(dir, "s3"), credentials: S3_CREDENTIALS }),
  ]);
  await s3.createBucket(BUCKET);
  statuses = recordStatusHistory(join(dir, "control-plane.db"));
  trustingDispatcher = new Agent({ connect: { ca: [...rootCertificates, caPem] } });
  admin = new AdminClient(sys.cp.url, undefined, ((input: string, init?: Record<string, unknown>) =>
    undiciFetch(input, { ...init, dispatcher: trustingDispatcher })) as unknown as typeof fetch);
});

after(async () => {
  statuses?.close();
  await trustingDispatcher?.close();
  await proxy?.stop();
  await s3?.stop();
  await sys?.stop();
  if (dir) await rm(dir, { recursive: true, force: true, maxRetries: 3 });
});

/** Every secret this run used, under a name that says what it is (never its value). */
function credentialsOfTheRun(): Credential[] {
  const basic = Buffer.from(`meridian:${PROXY_PASSWORD}`).toString("base64");
  return [
    ...installTokens.map((value, i) => ({ name: `install token ${i + 1}`, value })),
    ...agentCredentials.map((value, i) => ({ name: `agent credential ${i + 1}`, value })),
    ...[...workspaceTokens].map((value, i) => ({ name: `workspace token ${i + 1}`, value })),
    { name: "proxy password", value: PROXY_PASSWORD },
    { name: "proxy credentials as a Proxy-Authorization header carries them", value: basic },
    { name: "storage access key id", value: S3_CREDENTIALS.accessKeyId },
    { name: "storage secret access key", value: S3_CREDENTIALS.secretAccessKey },
  ];
}

/** The control plane's log and every status body it accepted so far hold none of `credentials`. */
function assertNoSecretReported(credentials: Credential[]): void {
  assertNoCredential(cpLogText, credentials, "the control plane's log");
  const bodies = statuses.bodies();
  assert.ok(
    bodies.some((b) => b.kind === "agent"),
    "no agent status was recorded",
  );
  assert.ok(
    bodies.some((b) => b.kind === "workspace"),
    "no workspace status was recorded",
  );
  for (const [i, b] of bodies.entries())
    assertNoCredential(
      b.body,
      credentials,
      `status body ${i + 1} of ${bodies.length} (${b.kind} ${b.subject})`,
    );
}

/** Two Ready agent pods, none of them in `not` (names of an earlier ReplicaSet), and nothing else. */
const twoReadyAgents = (not: Set<string>) => async (observe: (s: string) => void) => {
  const pods = await agentPods(sys.cluster);
  observe(
    pods.map((p) => `${podName(p)}${p.metadata?.deletionTimestamp ? "(terminating)" : ""}`).join(", ") ||
      "no agent pods",
  );
  const ready = readyPods(pods).filter((p) => !not.has(podName(p)));
  return pods.length === 2 && ready.length === 2 ? ready : undefined;
};

/** Flink pods and job exactly as before, and the workspace agent has reported since `since`. */
async function assertFlinkUntouched(since: number, what: string): Promise<void> {
  await wait(`a workspace status newer than the ${what}, with the job RUNNING`, 90 * SEC, async (observe) => {
    const ws = await admin.getWorkspace(WS);
    const st = await admin.getDeploymentStatus(WS, DEPLOYMENT);
    observe(`heartbeat ${ws.lastHeartbeatAt}, job ${st?.job.state} ${st?.job.id}`);
    return Date.parse(ws.lastHeartbeatAt ?? "0") > since && st?.job.state === "RUNNING" ? st : undefined;
  }).then((st) => assert.equal(st.job.id, flinkBefore.jobId, `the ${what} changed the Flink job id`));
  const { jobManagers, taskManagers } = await flinkPods(sys.cluster, WS_NS, DEPLOYMENT);
  const pods = [...jobManagers, ...taskManagers];
  const uids = pods.map(podUid).sort();
  if (JSON.stringify(uids) !== JSON.stringify(flinkBefore.uids)) {
    const events = await sys.cluster.kubectl(["get", "events", "-n", WS_NS, "--sort-by=.lastTimestamp"]);
    throw new Error(
      `the ${what} replaced JobManager/TaskManager pods: before ${flinkBefore.names.join(", ")} ` +
        `(${flinkBefore.uids.join(", ")}), now ${describePods(pods)} (${uids.join(", ")})\n` +
        `--- events in ${WS_NS}:\n${events.stdout.trimEnd().split("\n").slice(-20).join("\n")}\n` +
        (await podLogTails(sys.cluster, WS_NS, `meridian.dev/deployment=${DEPLOYMENT}`, 20)),
    );
  }
  assert.equal(readyPods(jobManagers).length, 1, `JobManager not Ready after the ${what}`);
  const pids = pods.flatMap((p) => sys.sim.podProcesses(WS_NS, podName(p))).sort();
  assert.deepEqual(pids, flinkBefore.pids, `the ${what} restarted a Flink JVM`);
}

/** The workspace agent Deployment has the agent's log level and exactly one Ready, up-to-date pod. */
async function workspaceAgentRolledOut(logLevel: string): Promise<void> {
  type Deploy = {
    metadata: { generation: number };
    spec: { template: { spec: { containers: Array<{ env?: Array<{ name: string; value?: string }> }> } } };
    status: {
      observedGeneration?: number;
      replicas?: number;
      updatedReplicas?: number;
      readyReplicas?: number;
    };
  };
  await wait(`the workspace agent rolled out with log level ${logLevel}`, 120 * SEC, async (observe) => {
    const d = await getJson<Deploy>(sys.cluster, ["deployment", "-n", WS_NS, WORKSPACE_AGENT_DEPLOYMENT]);
    const level = d?.spec.template.spec.containers[0]?.env?.find(
      (e) => e.name === "MERIDIAN_LOG_LEVEL",
    )?.value;
    const st = d?.status;
    const pods = await workspaceAgentPods(sys.cluster, WS_NS);
    observe(`level ${level}, status ${JSON.stringify(st)}, pods ${describePods(pods)}`);
    return (
      level === logLevel &&
      st?.observedGeneration === d?.metadata.generation &&
      st?.replicas === 1 &&
      st.updatedReplicas === 1 &&
      st.readyReplicas === 1 &&
      pods.length === 1 &&
      readyPods(pods).length === 1
    );
  });
}

step("helm install: two agent pods run the real agent as processes and become Ready", async () => {
  const notBuilt = missingAgents();
  if (notBuilt.length > 0) throw new NotBuiltError(notBuilt);
  const issued = await admin.createInstallToken(AGENT_ID, { credentialTtlSeconds: CREDENTIAL_TTL_SECONDS });
  installTokens.push(issued.installToken);
  await createTokenSecret(sys.cluster, issued.installToken);
  await applySecrets(sys.cluster, NAMESPACE, {
    [CA_SECRET]: { "ca.crt": caPem },
    [PROXY_SECRET]: { url: proxy.url },
  });
  const notes = await helmInstall(installOpts());
  assert.match(notes, /Meridian agent .* is installed/);
  const pods = await wait("two Ready agent pods", 120 * SEC, twoReadyAgents(new Set()));
  for (const pod of pods) {
    const cmds = podCommandLines(sys.sim, NAMESPACE, podName(pod));
    assert.ok(
      cmds.some((c) => c.includes("agent/dist/main.js run")),
      `${podName(pod)} does not run the agent's bundle agent/dist/main.js: ${cmds.join(" | ") || "no process"}`,
    );
  }
});

step("one agent holds the Lease and that leader streams from and reports to the control plane", async () => {
  const pods = await agentPods(sys.cluster);
  const holder = await wait("a Lease holder that is one of the agent pods", 60 * SEC, async (observe) => {
    const h = await leaseHolder(sys.cluster);
    observe(`holder ${h ?? "none"}`);
    return holderPod(h, pods) ? h : undefined;
  });
  await admin.waitForStreams({ stream: "agent", target: AGENT_ID }, 30 * SEC);
  const record = await wait("an agent heartbeat naming the leader", 60 * SEC, async (observe) => {
    const r = await admin.getAgent(AGENT_ID);
    observe(`heartbeat ${r.lastHeartbeatAt}, leader ${r.status?.agent.leader}`);
    return r.lastHeartbeatAt && r.status?.agent.leader === holder ? r : undefined;
  });
  assert.ok(record.status?.agent.kubernetesVersion.includes("1.35"), JSON.stringify(record.status?.agent));
});

step(
  "the install token was exchanged once: the agent keeps a short-lived credential, the install token opens nothing",
  async () => {
    const stored = await wait("the agent's credential in its Secret", 60 * SEC, () =>
      storedAgentCredential(),
    );
    const left = Date.parse(stored.expiresAt) - Date.now();
    assert.ok(left > 0 && left <= CREDENTIAL_TTL_SECONDS * SEC, `the credential expires in ${left} ms`);
    assert.equal(
      await protocolStatus("POST", paths.agentCredentialExchange(AGENT_ID), installTokens[0]!),
      401,
    );
    assert.equal(await protocolStatus("GET", paths.agentStream(AGENT_ID), installTokens[0]!), 401);
    assert.equal(await protocolStatus("GET", paths.agentStream(AGENT_ID), stored.token), 200);
  },
);

step("a workspace created through the admin API gets its namespace and a Ready workspace agent", async () => {
  await admin.putWorkspace(AGENT_ID, WS, {
    ...workspaceBody("e2e workspace"),
    storage: { baseURI: `s3://${BUCKET}/workspaces/${WS}/`, credentialsSecret: STORAGE_SECRET },
  });
  const ns = await wait(`namespace ${WS_NS}`, 60 * SEC, () =>
    getJson<{ metadata: { labels?: Record<string, string> } }>(sys.cluster, ["namespace", WS_NS]),
  );
  assert.equal(ns.metadata.labels?.["meridian.dev/workspace"], WS);
  // The workspace's storage keys: the customer's Secret in the workspace namespace, named by the spec.
  await applySecrets(sys.cluster, WS_NS, {
    [STORAGE_SECRET]: {
      AWS_ACCESS_KEY_ID: S3_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3_CREDENTIALS.secretAccessKey,
    },
  });
  const [pod] = await wait("a Ready workspace agent pod", 120 * SEC, async (observe) => {
    const pods = await workspaceAgentPods(sys.cluster, WS_NS);
    observe(pods.map(podName).join(", ") || "no workspace agent pod");
    const ready = readyPods(pods);
    return ready.length === 1 ? ready : undefined;
  });
  const cmds = podCommandLines(sys.sim, WS_NS, podName(pod!));
  assert.ok(
    cmds.some((c) => c.includes("workspace-agent/dist/main.js run")),
    cmds.join(" | "),
  );
  await wait(
    "workspace Ready in the agent's status and a workspace agent heartbeat",
    60 * SEC,
    async (observe) => {
      const status = await admin.getAgentStatus(AGENT_ID);
      const ws = status?.workspaces.find((w) => w.id === WS);
      const rec = await admin.getWorkspace(WS);
      observe(`phase ${ws?.phase}, workspace heartbeat ${rec.lastHeartbeatAt}`);
      return ws?.phase === "Ready" && ws.namespace === WS_NS && rec.lastHeartbeatAt ? true : undefined;
    },
  );
});

step("a Flink deployment reaches job RUNNING on real JVMs", async () => {
  // Kubernetes HA is off for this job (the workspace's storage would turn it on): this run is about
  // secrets and credentials, and its checks that upgrades and revocation leave the JobManager's JVM
  // alone assume one that is not restarted in place. HA's own recovery is tested on its own.
  await admin.putDeployment(WS, DEPLOYMENT, {
    ...exampleDeployment(),
    flinkConfiguration: { "high-availability.type": "NONE" },
  });
  const st = await wait("job RUNNING in the deployment status", 300 * SEC, async (observe) => {
    const s = await admin.getDeploymentStatus(WS, DEPLOYMENT);
    observe(s ? `phase ${s.phase}, job ${s.job.state}, TMs ready ${s.taskManagers.ready}` : "no status yet");
    const ready = s?.conditions.find((c) => c.type === "Ready")?.status === "True";
    return s?.job.state === "RUNNING" && s.job.id && ready ? s : undefined;
  });
  const { jobManagers, taskManagers } = await flinkPods(sys.cluster, WS_NS, DEPLOYMENT);
  assert.equal(jobManagers.length, 1);
  assert.equal(taskManagers.length, 1);
  // The job the status names runs in this JobManager (not in another cluster's on the same pod IP).
  const jmLog = await sys.cluster.kubectl(["logs", "-n", WS_NS, podName(jobManagers[0]!)]);
  assert.ok(jmLog.stdout.includes(st.job.id!), `job ${st.job.id} not in the JobManager's log`);
  const pods: V1Pod[] = [...jobManagers, ...taskManagers];
  for (const p of pods) {
    const cmds = podCommandLines(sys.sim, WS_NS, podName(p));
    assert.ok(
      cmds.some((c) => /java .*org\.apache\.flink\./.test(c)),
      `${podName(p)}: ${cmds.join(" | ")}`,
    );
  }
  flinkBefore = {
    names: pods.map(podName),
    uids: pods.map(podUid).sort(),
    pids: pods.flatMap((p) => sys.sim.podProcesses(WS_NS, podName(p))).sort(),
    jobId: st.job.id!,
  };
});

step("the agents reach the control plane through the proxy, which they get from Secrets only", async () => {
  const cpHost = new URL(sys.cp.url).host;
  assert.ok(
    (proxy.tunnels().get(cpHost) ?? 0) >= 2,
    `the proxy tunnelled ${JSON.stringify([...proxy.tunnels()])}, not the agent's and the workspace agent's connections to ${cpHost}`,
  );
  assert.equal(proxy.refused(), 0, "a connection reached the proxy without its password");
  type Deploy = {
    spec: { template: { spec: { containers: Array<{ env?: Array<Record<string, unknown>> }> } } };
  };
  for (const [ns, name, secret] of [
    [NAMESPACE, "meridian-agent", { name: PROXY_SECRET, key: "url" }],
    [WS_NS, WORKSPACE_AGENT_DEPLOYMENT, { name: "meridian-workspace-proxy", key: "httpsProxy" }],
  ] as const) {
    const d = await getJson<Deploy>(sys.cluster, ["deployment", "-n", ns, name]);
    const text = JSON.stringify(d);
    assert.ok(!text.includes(PROXY_PASSWORD), `Deployment ${ns}/${name} holds the proxy password`);
    const env = d?.spec.template.spec.containers[0]?.env?.find((e) => e.name === "HTTPS_PROXY");
    assert.deepEqual(env, { name: "HTTPS_PROXY", valueFrom: { secretKeyRef: secret } }, `${ns}/${name}`);
  }
});

step(
  "no secret of the run in any log or status body: token, proxy password, workspace and storage credentials",
  async () => {
    const wsToken = await workspaceToken(sys.cluster, WS_NS);
    assert.ok(wsToken, "no token in the workspace credential Secret");
    workspaceTokens.add(wsToken);
    await storedAgentCredential();
    const credentials = credentialsOfTheRun();
    const sources = [
      ["-n", NAMESPACE, "deploy/meridian-agent"],
      ...(await agentPods(sys.cluster)).map((p) => ["-n", NAMESPACE, podName(p)]),
      ["-n", WS_NS, `deploy/${WORKSPACE_AGENT_DEPLOYMENT}`],
    ];
    for (const args of sources) {
      const res = await sys.cluster.kubectl(["logs", ...args]);
      const source = `kubectl logs ${args.join(" ")}`;
      assert.equal(res.code, 0, `${source}: ${res.stderr}`);
      const lines = parseJsonLines(res.stdout, source);
      assert.ok(lines.length > 0, `${source} printed nothing`);
      assertNoCredential(res.stdout, credentials, source);
    }
    // Flink's own logs (not JSON): the JobManager and TaskManager got the storage keys as environment.
    const { jobManagers, taskManagers } = await flinkPods(sys.cluster, WS_NS, DEPLOYMENT);
    for (const p of [...jobManagers, ...taskManagers]) {
      const res = await sys.cluster.kubectl(["logs", "-n", WS_NS, podName(p)]);
      assert.equal(res.code, 0, `kubectl logs ${podName(p)}: ${res.stderr}`);
      assertNoCredential(res.stdout, credentials, `kubectl logs -n ${WS_NS} ${podName(p)}`);
    }
    assertNoSecretReported(credentials);
  },
);

step("helm upgrade with a new logLevel rolls the agent and leaves the Flink job alone", async () => {
  const old = await agentPods(sys.cluster);
  const oldNames = new Set(old.map(podName));
  const oldHash = old[0]?.metadata?.labels?.["pod-template-hash"];
  const started = Date.now();
  await helmUpgrade(installOpts("debug"));
  const pods = await wait("two new Ready agent pods and no old one", 180 * SEC, twoReadyAgents(oldNames));
  for (const p of pods)
    assert.notEqual(p.metadata?.labels?.["pod-template-hash"], oldHash, "same ReplicaSet");
  await wait("a Lease holder among the new pods", 60 * SEC, async (observe) => {
    const h = await leaseHolder(sys.cluster);
    observe(`holder ${h ?? "none"}`);
    return holderPod(h, pods) ? h : undefined;
  });
  await wait("an agent heartbeat from the new leader", 60 * SEC, async (observe) => {
    const r = await admin.getAgent(AGENT_ID);
    observe(`heartbeat ${r.lastHeartbeatAt}, leader ${r.status?.agent.leader}`);
    return Date.parse(r.lastHeartbeatAt ?? "0") > started && holderPod(r.status?.agent.leader, pods)
      ? r
      : undefined;
  });
  for (const p of old)
    assert.deepEqual(sys.sim.podProcesses(NAMESPACE, podName(p)), [], `${podName(p)} still runs`);
  await workspaceAgentRolledOut("debug");
  await assertFlinkUntouched(started, "helm upgrade");
});

step(
  "a revoked agent is cut off within its credential lifetime; its workspace agent and Flink keep running",
  async () => {
    const wsBefore = (await workspaceAgentPods(sys.cluster, WS_NS)).map(podUid);
    const { jobManagers, taskManagers } = await flinkPods(sys.cluster, WS_NS, DEPLOYMENT);
    const flinkUids = [...jobManagers, ...taskManagers].map(podUid).sort();
    const revokedAt = Date.now();
    const result = await admin.revokeAgent(AGENT_ID);
    assert.ok(
      result.revoked.agentCredentials >= 1 && result.revoked.workspaceCredentials >= 1,
      JSON.stringify(result),
    );
    const ours = async () =>
      (await admin.streams()).streams.filter((s) => s.target === AGENT_ID || s.target === WS);
    await wait(
      "no stream of the agent or its workspace at the control plane",
      CREDENTIAL_TTL_SECONDS * SEC,
      async (observe) => {
        const open = await ours();
        observe(open.map((s) => `${s.stream}/${s.target} since ${s.connectedAt}`).join(", ") || "none");
        return open.length === 0 ? true : undefined;
      },
    );
    const cutOffMs = Date.now() - revokedAt;
    assert.ok(cutOffMs < CREDENTIAL_TTL_SECONDS * SEC, `cut off after ${cutOffMs} ms`);
    console.log(`# the revoked agent was cut off ${cutOffMs} ms after the revocation`);
    // It stays cut off: over more than two heartbeat periods nothing of it is accepted.
    await new Promise((r) => setTimeout(r, 25 * SEC));
    assert.deepEqual(await ours(), [], "a stream of the revoked agent was accepted again");
    const grace = 2 * SEC; // a report in flight when the revocation landed
    const agentBeat = Date.parse((await admin.getAgent(AGENT_ID)).lastHeartbeatAt ?? "0");
    const wsBeat = Date.parse((await admin.getWorkspace(WS)).lastHeartbeatAt ?? "0");
    assert.ok(
      agentBeat < revokedAt + grace,
      `an agent status was accepted ${agentBeat - revokedAt} ms after the revocation`,
    );
    assert.ok(
      wsBeat < revokedAt + grace,
      `a workspace status was accepted ${wsBeat - revokedAt} ms after the revocation`,
    );
    const told = await Promise.all(
      (await agentPods(sys.cluster)).map((p) => sys.cluster.kubectl(["logs", "-n", NAMESPACE, podName(p)])),
    );
    assert.ok(
      told.some((l) => l.stdout.includes("ask the vendor for a new install token")),
      "no agent log says what to do about the revocation",
    );
    // The data plane keeps running: the same workspace agent pod, the same Flink pods and JVMs.
    assert.deepEqual((await workspaceAgentPods(sys.cluster, WS_NS)).map(podUid), wsBefore);
    const after = await flinkPods(sys.cluster, WS_NS, DEPLOYMENT);
    assert.deepEqual([...after.jobManagers, ...after.taskManagers].map(podUid).sort(), flinkUids);
    assert.deepEqual(
      [...after.jobManagers, ...after.taskManagers]
        .flatMap((p) => sys.sim.podProcesses(WS_NS, podName(p)))
        .sort(),
      flinkBefore.pids,
      "a Flink JVM stopped or restarted after the revocation",
    );
    // A new install token in the Secret and a restart bring the agent and then its workspace back.
    const again = await admin.createInstallToken(AGENT_ID, { credentialTtlSeconds: CREDENTIAL_TTL_SECONDS });
    installTokens.push(again.installToken);
    await createTokenSecret(sys.cluster, again.installToken);
    const restartedAt = Date.now();
    const res = await sys.cluster.kubectl([
      "rollout",
      "restart",
      "-n",
      NAMESPACE,
      "deployment/meridian-agent",
    ]);
    assert.equal(res.code, 0, res.stderr);
    await wait("an agent heartbeat after the new install token", 180 * SEC, async (observe) => {
      const r = await admin.getAgent(AGENT_ID);
      observe(`heartbeat ${r.lastHeartbeatAt}`);
      return Date.parse(r.lastHeartbeatAt ?? "0") > restartedAt ? r : undefined;
    });
    await wait("a workspace heartbeat after the new install token", 180 * SEC, async (observe) => {
      const r = await admin.getWorkspace(WS);
      observe(`heartbeat ${r.lastHeartbeatAt}`);
      return Date.parse(r.lastHeartbeatAt ?? "0") > restartedAt ? r : undefined;
    });
    await storedAgentCredential();
  },
);

step("helm uninstall removes the agent; the workspace and its Flink job keep running", async () => {
  const old = await agentPods(sys.cluster);
  const started = Date.now();
  await helmUninstall(sys.cluster.kubeconfigPath);
  await wait("the agent Deployment and pods gone", 90 * SEC, async (observe) => {
    const pods = await agentPods(sys.cluster);
    const deploy = await getJson(sys.cluster, ["deployment", "-n", NAMESPACE, "meridian-agent"]);
    observe(`deployment ${deploy ? "present" : "gone"}, pods ${pods.map(podName).join(", ") || "none"}`);
    return !deploy && pods.length === 0;
  });
  for (const p of old)
    assert.deepEqual(sys.sim.podProcesses(NAMESPACE, podName(p)), [], `${podName(p)} still runs`);
  const ns = await getJson<{ status: { phase: string } }>(sys.cluster, ["namespace", WS_NS]);
  assert.equal(
    ns?.status.phase,
    "Active",
    `namespace ${WS_NS} after uninstall: ${JSON.stringify(ns?.status)}`,
  );
  assert.equal(
    readyPods(await workspaceAgentPods(sys.cluster, WS_NS)).length,
    1,
    "workspace agent not Ready",
  );
  await assertFlinkUntouched(started, "helm uninstall");
  // The whole run's reports, up to its end, upgrade included.
  const wsToken = await workspaceToken(sys.cluster, WS_NS);
  if (wsToken) workspaceTokens.add(wsToken);
  await storedAgentCredential();
  const credentials = credentialsOfTheRun();
  const logs = await sys.cluster.kubectl(["logs", "-n", WS_NS, `deploy/${WORKSPACE_AGENT_DEPLOYMENT}`]);
  assertNoCredential(
    logs.stdout,
    credentials,
    `kubectl logs -n ${WS_NS} deploy/${WORKSPACE_AGENT_DEPLOYMENT}`,
  );
  assertNoSecretReported(credentials);
});
