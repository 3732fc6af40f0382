// Hostile Flink deployment specs against a workspace agent on the real local cluster (issue 15,
// defects 6 and 7): flinkConfiguration keys and values that would write extra lines into config.yaml
// or that Meridian owns, and job jars outside the image (a cloud metadata address, file: paths).
// Each is refused with a named reason in the workspace status upward, logged once, and nothing is
// created for it, while a valid deployment beside them converges and keeps running.
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { after, before, test } from "node:test";
import { createLogger } from "@meridian/shared/log";
import type { WorkspaceAgent } from "@meridian/workspace-agent/agent";
import { parse } from "yaml";
import type { DeploymentBody } from "../control-plane/index.ts";
import {
  condition,
  createWorkspace,
  type Env,
  kubeGet,
  podsOf,
  reported,
  startAgent,
  startEnv,
  type Workspace,
  waitFor,
} from "./harness.ts";

let env: Env;
let ws: Workspace;
let agent: WorkspaceAgent;
const logLines: string[] = [];

/** Pods of this image "run" without a process in the node simulator; the registry is allowed. */
const GOOD: DeploymentBody = {
  image: "registry.meridian.test/flink-simulated:2.3.0",
  job: { jarURI: "local:///opt/flink/usrlib/job.jar", entryClass: "org.example.Job" },
  parallelism: 1,
  jobManager: { resources: { cpu: "100m", memory: "256Mi" } },
  taskManager: { resources: { cpu: "100m", memory: "256Mi" }, taskSlots: 1 },
  flinkConfiguration: { "pipeline.name": "orders: nightly # run\nline two" },
  state: "RUNNING",
  upgradeMode: "STATELESS",
};

before(async () => {
  env = await startEnv();
  ws = await createWorkspace(env, "team-h");
  const sink = new PassThrough();
  sink.on("data", (chunk: Buffer) => logLines.push(...chunk.toString("utf8").split("\n").filter(Boolean)));
  agent = await startAgent(
    env,
    ws,
    {},
    { logger: createLogger({ component: "wsa", level: "debug", destination: sink }) },
  );
  await env.cp.admin.putDeployment(ws.id, "good", GOOD);
  await waitFor("good's pods", async () => (await live("good")).length === 2);
});

after(async () => {
  await agent?.stop();
  await env?.stop();
});

const live = async (name: string) =>
  (await podsOf(env, ws.namespace, name)).filter((p) => !p.metadata.deletionTimestamp);

/** Names of every ConfigMap and pod in the workspace namespace: what the agent has created. */
async function inventory(): Promise<string[]> {
  const list = async (kind: string) =>
    (
      (
        await kubeGet<{ items: Array<{ metadata: { name: string; uid: string } }> }>(
          env,
          `/api/v1/namespaces/${ws.namespace}/${kind}`,
        )
      )?.items ?? []
    ).map((o) => `${kind}/${o.metadata.name}/${o.metadata.uid}`);
  return [...(await list("configmaps")), ...(await list("pods"))]
    .filter((n) => !n.includes("kube-root-ca"))
    .sort();
}

/** Sends a `deployment.upsert` the reference control plane itself would never accept. */
async function injectUpsert(name: string, over: Partial<DeploymentBody>, generation = 1): Promise<void> {
  await env.cp.admin.fault({
    type: "inject-event",
    stream: "workspace",
    target: ws.id,
    event: "deployment.upsert",
    data: JSON.stringify({ deployment: { ...GOOD, ...over, name, generation } }),
  });
}

test("flinkConfiguration that cannot reach config.yaml as one key is refused with its reason; nothing is created", async () => {
  const before = await inventory();
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    [
      "newline-key",
      { "a\nrest.port": "1", "pipeline.name": "x" },
      /deployment\.flinkConfiguration: keys must be Flink option keys .*"a\\nrest\.port"/,
    ],
    [
      "owned-keys",
      { "rest.port": "9999", "jobmanager.rpc.address": "evil.example.com" },
      /deployment\.flinkConfiguration: sets keys Meridian owns: rest\.port \(8081, the Service's rest port\), jobmanager\.rpc\.address/,
    ],
    [
      "del-value",
      { "pipeline.name": "a\u007fb" },
      /values must hold only YAML's printable characters.*"pipeline\.name"/,
    ],
  ];
  for (const [name, flinkConfiguration, reason] of cases) {
    const count = (await env.cp.admin.getWorkspaceStatus(ws.id))?.rejectedEvents.count ?? 0;
    await injectUpsert(name, { flinkConfiguration });
    const st = await waitFor(`${name} refused`, async () => {
      const s = await env.cp.admin.getWorkspaceStatus(ws.id);
      return s && s.rejectedEvents.count > count ? s : undefined;
    });
    assert.match(st.rejectedEvents.last?.error ?? "", reason, name);
    assert.equal(st.rejectedEvents.last?.eventType, "deployment.upsert");
    assert.ok(
      logLines.some((l) => JSON.parse(l).msg === "stream event refused" && reason.test(JSON.parse(l).reason)),
      `a log line names the reason for ${name}`,
    );
  }
  await agent.controller.idle();
  assert.deepEqual(await inventory(), before, "no ConfigMap and no pod for any refused deployment");
  const status = await env.cp.admin.getWorkspaceStatus(ws.id);
  assert.deepEqual(
    status?.deployments.map((d) => d.name),
    ["good"],
  );
});

test("the valid deployment's config.yaml holds its multi-line value as one key, exactly", async () => {
  const cm = await kubeGet<{ data: Record<string, string> }>(
    env,
    `/api/v1/namespaces/${ws.namespace}/configmaps/good-flink-config`,
  );
  const text = cm?.data["config.yaml"] ?? "";
  const conf = parse(text) as Record<string, string>;
  assert.equal(conf["pipeline.name"], GOOD.flinkConfiguration?.["pipeline.name"]);
  assert.equal(conf["rest.port"], "8081");
  const entries = text.split("\n").filter((l) => l !== "" && !l.startsWith("#"));
  assert.equal(entries.length, Object.keys(conf).length, "one line per key");
});

test("a jarURI outside the image is refused per deployment, naming job.jarURI; nothing is created", async () => {
  const before = await inventory();
  const cases: Array<[string, string, RegExp]> = [
    [
      "imds",
      "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
      /^job\.jarURI: jarURI has scheme "http:"/,
    ],
    [
      "imds-https",
      "https://169.254.169.254/latest/meta-data/",
      /^job\.jarURI: jarURI points at 169\.254\.169\.254, a loopback, link-local or cloud metadata address/,
    ],
    [
      "gce-metadata",
      "https://metadata.google.internal/computeMetadata/v1/",
      /points at metadata\.google\.internal/,
    ],
    ["passwd", "file:///etc/passwd", /^job\.jarURI: jarURI has scheme "file:"/],
    ["traversal", "local:///opt/flink/usrlib/../../../etc/passwd", /'\.' or '\.\.' path segments/],
    ["remote", "s3://some-bucket/job.jar", /the local policy allows only local:\/\/ paths inside the image/],
  ];
  for (const [name, jarURI] of cases)
    await env.cp.admin.putDeployment(ws.id, name, { ...GOOD, job: { ...GOOD.job, jarURI } });
  for (const [name, , reason] of cases) {
    const s = await waitFor(`${name} Refused`, async () => {
      const r = await reported(env, ws, name);
      return r?.phase === "Refused" ? r : undefined;
    });
    const cond = condition(s, "SpecAligned");
    assert.equal(cond?.status, "False", name);
    assert.equal(cond?.reason, "SpecRefused", name);
    assert.match(cond?.message ?? "", reason, name);
    assert.ok(!(cond?.message ?? "").includes("security-credentials"), "the reason does not repeat the URI");
  }
  // Resyncs reconcile every refused deployment again: still nothing created, still logged once.
  agent.controller.enqueueAll();
  await agent.controller.idle();
  agent.controller.enqueueAll();
  await agent.controller.idle();
  assert.deepEqual(await inventory(), before, "no ConfigMap and no pod for any refused deployment");
  for (const [name] of cases) {
    const refusals = logLines.filter((l) => {
      const j = JSON.parse(l);
      return j.deployment === name && j.msg === "spec refused by the local policy; nothing applied for it";
    });
    assert.equal(refusals.length, 1, `${name} refused and logged once`);
  }
  assert.equal((await live("good")).length, 2, "the valid deployment keeps running");
});

test("an update of a running deployment to a jar outside the image changes nothing that runs", async () => {
  const before = await inventory();
  await env.cp.admin.putDeployment(ws.id, "good", {
    ...GOOD,
    job: { ...GOOD.job, jarURI: "file:///etc/passwd" },
  });
  const s = await waitFor("good's update refused", async () => {
    const r = await reported(env, ws, "good");
    return condition(r, "SpecAligned")?.reason === "SpecRefused" ? r : undefined;
  });
  assert.match(condition(s, "SpecAligned")?.message ?? "", /^job\.jarURI: jarURI has scheme "file:"/);
  await agent.controller.idle();
  assert.deepEqual(await inventory(), before, "the running pods and ConfigMap are untouched");
  await env.cp.admin.putDeployment(ws.id, "good", GOOD);
  await waitFor("good aligned again", async () => {
    const r = await reported(env, ws, "good");
    return condition(r, "SpecAligned")?.reason !== "SpecRefused" && r?.phase !== "Refused";
  });
});

test("a remote jar location the local policy lists is used; one it does not list stays refused", async () => {
  await agent.stop();
  agent = await startAgent(env, ws, { flinkAllowedJarURIs: ["s3://acme-jobs/releases"] });
  const jar = (jarURI: string): DeploymentBody => ({ ...GOOD, job: { ...GOOD.job, jarURI } });
  await env.cp.admin.putDeployment(ws.id, "from-s3", jar("s3://acme-jobs/releases/v1/job.jar"));
  await env.cp.admin.putDeployment(ws.id, "beside", jar("s3://acme-jobs/releases-evil/job.jar"));
  await waitFor("from-s3's pods", async () => (await live("from-s3")).length === 2);
  const s = await waitFor("beside Refused", async () => {
    const r = await reported(env, ws, "beside");
    return r?.phase === "Refused" ? r : undefined;
  });
  assert.match(
    condition(s, "SpecAligned")?.message ?? "",
    /^job\.jarURI: jarURI on s3:\/\/acme-jobs is not under an allowed jar location \(allowedJarURIs: s3:\/\/acme-jobs\/releases\)/,
  );
  assert.equal((await podsOf(env, ws.namespace, "beside")).length, 0);
});

test("in a snapshot, each hostile flinkConfiguration is refused alone and named; the rest applies", async () => {
  const good = await waitFor("good settled", async () => {
    const r = await reported(env, ws, "good");
    return r && condition(r, "SpecAligned")?.status === "True" ? r : undefined;
  });
  const goodPods = (await live("good")).map((p) => p.metadata.uid).sort();
  const item = (name: string, generation: number, over: Partial<DeploymentBody> = {}) => ({
    ...GOOD,
    ...over,
    name,
    generation,
  });
  await env.cp.admin.fault({
    type: "inject-event",
    stream: "workspace",
    target: ws.id,
    event: "snapshot",
    data: JSON.stringify({
      workspaceId: ws.id,
      deployments: [
        item("good", good.observedGeneration),
        item("snap-newline", 1, { flinkConfiguration: { "x\ny": "1" } }),
        item("snap-owned", 1, { flinkConfiguration: { "parallelism.default": "64" } }),
        item("fresh", 1),
      ],
    }),
  });
  await waitFor("fresh's pods", async () => (await live("fresh")).length === 2);
  for (const [name, reason] of [
    ["snap-newline", /deployments\.1\.flinkConfiguration: keys must be Flink option keys .*"x\\ny"/],
    [
      "snap-owned",
      /deployments\.2\.flinkConfiguration: sets keys Meridian owns: parallelism\.default \(set parallelism\)/,
    ],
  ] as const) {
    const s = await waitFor(`${name} reported refused`, async () => {
      const r = await reported(env, ws, name);
      return condition(r, "SpecRejected") ? r : undefined;
    });
    assert.ok(s, name);
    assert.equal(s.phase, "Refused", name);
    assert.match(condition(s, "SpecRejected")?.message ?? "", reason, name);
    assert.equal((await podsOf(env, ws.namespace, name)).length, 0, `no pod for ${name}`);
    assert.equal(
      await kubeGet(env, `/api/v1/namespaces/${ws.namespace}/configmaps/${name}-flink-config`),
      undefined,
      `no ConfigMap for ${name}`,
    );
  }
  assert.deepEqual((await live("good")).map((p) => p.metadata.uid).sort(), goodPods, "good untouched");
});
