// Pod templates on the real local cluster (issue 12, deliverables 5 and 9): a deployment's template
// puts an environment variable, a Secret reference and a Secret volume into its JobManager and
// TaskManager pods as the API server stores them, and the node simulator resolves the Secret's value
// into the container's environment the way the kubelet does; a template that overrides what Meridian
// owns is refused with the field named and creates nothing. Simulated Flink (no JVM) for speed; the
// processes are a sidecar's (busybox: the node simulator runs it as a shell on the host, with the
// template's Secret-backed env and volume as the kubelet would give them).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { V1Pod } from "@kubernetes/client-node";
import type { WorkspaceAgent } from "@meridian/workspace-agent/agent";
import { resolveContainerEnv } from "../cluster/node-simulator/env.ts";
import type { DeploymentBody } from "../control-plane/index.ts";
import {
  ALLOWED_REGISTRIES,
  apply,
  condition,
  createWorkspace,
  type Env,
  kubeGet,
  podsOf,
  reported,
  SIMULATED,
  startAgent,
  startEnv,
  type Workspace,
  waitFor,
} from "./harness.ts";

let env: Env;
let ws: Workspace;
let agent: WorkspaceAgent;

const TEMPLATED: DeploymentBody = {
  ...SIMULATED,
  podTemplate: {
    metadata: { labels: { team: "orders" } },
    spec: {
      containers: [
        {
          name: "flink-main-container",
          env: [
            { name: "ORDERS_MODE", value: "replay" },
            { name: "DB_PASSWORD", valueFrom: { secretKeyRef: { name: "orders-db", key: "password" } } },
          ],
          volumeMounts: [{ name: "db", mountPath: "/etc/orders-db", readOnly: true }],
        },
      ],
      volumes: [{ name: "db", secret: { secretName: "orders-db" } }],
      nodeSelector: { "kubernetes.io/os": "linux" },
    },
  },
  taskManager: {
    ...SIMULATED.taskManager,
    podTemplate: {
      spec: { containers: [{ name: "flink-main-container", env: [{ name: "ORDERS_MODE", value: "tm" }] }] },
    },
  },
};

before(async () => {
  env = await startEnv();
  ws = await createWorkspace(env, "team-pt");
  await apply(env, {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "orders-db", namespace: ws.namespace },
    stringData: { password: "s3cr3t-from-secret" },
  } as never);
  agent = await startAgent(env, ws, {
    flinkAllowedRegistries: [...ALLOWED_REGISTRIES, "docker.io/library/busybox"],
  });
});

after(async () => {
  await agent?.stop();
  await env?.stop();
});

const fullPods = async (name: string) =>
  (
    (await kubeGet<{ items: V1Pod[] }>(
      env,
      `/api/v1/namespaces/${ws.namespace}/pods?labelSelector=meridian.dev/deployment%3D${name}`,
    )) ?? { items: [] }
  ).items.filter((p) => !p.metadata?.deletionTimestamp);

test("a template's env, Secret reference and Secret volume reach the JobManager and TaskManager pods", async () => {
  await env.cp.admin.putDeployment(ws.id, "orders", TEMPLATED);
  const pods = await waitFor("orders' pods", async () => {
    const p = await fullPods("orders");
    return p.length === 2 ? p : undefined;
  });
  const secret = await kubeGet<{ data: Record<string, string> }>(
    env,
    `/api/v1/namespaces/${ws.namespace}/secrets/orders-db`,
  );
  const decoded = Object.fromEntries(
    Object.entries(secret?.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]),
  );
  for (const pod of pods) {
    const c = pod.spec!.containers[0]!;
    const which = pod.metadata!.name!;
    assert.equal(pod.metadata?.labels?.team, "orders", which);
    assert.equal(pod.metadata?.labels?.["app.kubernetes.io/part-of"], "meridian", which);
    assert.deepEqual(pod.spec?.nodeSelector, { "kubernetes.io/os": "linux" }, which);
    assert.ok(
      pod.spec?.volumes?.some((v) => v.name === "db" && v.secret?.secretName === "orders-db"),
      which,
    );
    assert.ok(
      c.volumeMounts?.some((m) => m.name === "db" && m.mountPath === "/etc/orders-db"),
      which,
    );
    assert.ok(
      c.volumeMounts?.some((m) => m.mountPath === "/opt/flink/conf"),
      `${which}: Meridian's mount stays`,
    );
    assert.equal(c.securityContext?.runAsNonRoot, true, which);
    // What the process gets: the node simulator resolves env like the kubelet, Secret values included.
    const resolved = resolveContainerEnv({
      pod,
      container: c,
      podIP: "10.0.0.1",
      hostIP: "10.0.0.2",
      sources: {
        configMap: () => undefined,
        secret: (_ns, name) => (name === "orders-db" ? decoded : undefined),
      },
    });
    assert.ok(resolved.ok, resolved.ok ? "" : resolved.error);
    assert.equal(resolved.env.DB_PASSWORD, "s3cr3t-from-secret", which);
    assert.equal(resolved.env.ORDERS_MODE, which.includes("taskmanager") ? "tm" : "replay", which);
  }
  const status = await waitFor("orders reported", async () => {
    const s = await reported(env, ws, "orders");
    return s && s.phase !== "Pending" ? s : undefined;
  });
  assert.notEqual(status.phase, "Refused");
});

test("a template's Secret env and Secret volume reach a process in the JobManager and TaskManager pods", async () => {
  const script = 'echo "env=$DB_PASSWORD"; echo "file=$(cat /etc/orders-db/password)"; exec sleep 3600';
  await env.cp.admin.putDeployment(ws.id, "probed", {
    ...SIMULATED,
    podTemplate: {
      spec: {
        containers: [
          {
            name: "probe",
            image: "busybox",
            command: ["sh", "-c", script],
            env: [
              { name: "DB_PASSWORD", valueFrom: { secretKeyRef: { name: "orders-db", key: "password" } } },
            ],
            volumeMounts: [{ name: "db", mountPath: "/etc/orders-db", readOnly: true }],
          },
        ],
        volumes: [{ name: "db", secret: { secretName: "orders-db" } }],
      },
    },
  });
  for (const pod of ["probed-jobmanager", "probed-taskmanager-0"]) {
    const log = await waitFor(`${pod}'s probe output`, async () => {
      const r = await env.cluster.request(
        "GET",
        `/api/v1/namespaces/${ws.namespace}/pods/${pod}/log?container=probe`,
      );
      return r.status === 200 && r.body.includes("file=") ? r.body : undefined;
    });
    assert.match(log, /^env=s3cr3t-from-secret$/m, pod);
    assert.match(log, /^file=s3cr3t-from-secret$/m, pod);
  }
});

test("a template overriding what Meridian owns is refused naming the field; nothing is created for it", async () => {
  const cases: Array<[string, unknown, RegExp]> = [
    [
      "cmd",
      { spec: { containers: [{ name: "flink-main-container", command: ["sh", "-c", "id"] }] } },
      /deployment\.podTemplate\.spec\.containers\.0\.command: command is owned by Meridian/,
    ],
    [
      "root",
      { spec: { securityContext: { runAsUser: 0 } } },
      /deployment\.podTemplate\.spec\.securityContext: spec\.securityContext is owned by Meridian/,
    ],
    [
      "host",
      { spec: { volumes: [{ name: "root", hostPath: { path: "/" } }] } },
      /hostPath volumes are never allowed/,
    ],
  ];
  for (const [name, podTemplate, reason] of cases) {
    const count = (await env.cp.admin.getWorkspaceStatus(ws.id))?.rejectedEvents.count ?? 0;
    await env.cp.admin.fault({
      type: "inject-event",
      stream: "workspace",
      target: ws.id,
      event: "deployment.upsert",
      data: JSON.stringify({ deployment: { ...SIMULATED, podTemplate, name, generation: 1 } }),
    });
    const st = await waitFor(`${name} refused`, async () => {
      const s = await env.cp.admin.getWorkspaceStatus(ws.id);
      return s && s.rejectedEvents.count > count ? s : undefined;
    });
    assert.match(st.rejectedEvents.last?.error ?? "", reason, name);
    assert.equal((await podsOf(env, ws.namespace, name)).length, 0, `no pod for ${name}`);
  }
});

test("a template taking Meridian's config mount is refused by the policy check with the field named", async () => {
  await env.cp.admin.putDeployment(ws.id, "conf", {
    ...SIMULATED,
    jobManager: {
      ...SIMULATED.jobManager,
      podTemplate: {
        spec: {
          containers: [
            { name: "flink-main-container", volumeMounts: [{ name: "c", mountPath: "/opt/flink/conf" }] },
          ],
          volumes: [{ name: "c", emptyDir: {} }],
        },
      },
    },
  });
  const s = await waitFor("conf Refused", async () => {
    const r = await reported(env, ws, "conf");
    return r?.phase === "Refused" ? r : undefined;
  });
  assert.match(
    condition(s, "SpecAligned")?.message ?? "",
    /^jobManager\.podTemplate\.spec\.containers\[0\]\.volumeMounts\[0\]\.mountPath: \/opt\/flink\/conf is owned by Meridian/,
  );
  await agent.controller.idle();
  assert.equal((await podsOf(env, ws.namespace, "conf")).length, 0);
  assert.equal((await podsOf(env, ws.namespace, "orders")).length, 2, "the valid deployment keeps running");
});
