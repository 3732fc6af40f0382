import assert from "node:assert/strict";
import { test } from "node:test";
import { type DeploymentSpecInput, deploymentSpec } from "@meridian/shared/protocol/index";
import type { PodTemplate } from "@meridian/shared/protocol/pod-template";
import { buildJobManagerPod, buildTaskManagerPod, type DeploymentContext, specHash } from "./objects.ts";
import { mergePodTemplates } from "./pod-template.ts";
import { SPEC_INPUT } from "./spec.testutil.ts";
import { refuseSpec } from "./spec-policy.ts";

const owner = { name: "orders-flink-config", uid: "u1" };
const run = { id: 1, specHash: "h" };
const spec = (extra: Partial<DeploymentSpecInput>) => deploymentSpec.parse({ ...SPEC_INPUT, ...extra });
const ctx = (s: ReturnType<typeof spec>, pullSecrets: string[] = []): DeploymentContext => ({
  workspaceId: "w1",
  namespace: "mw-w1",
  spec: s,
  savepointBaseDir: undefined,
  imagePullSecrets: pullSecrets,
});
const policy = { allowedRegistries: [], allowedJarURIs: [] };

const shared: PodTemplate = {
  metadata: { labels: { team: "orders" }, annotations: { "example.com/a": "1" } },
  spec: {
    containers: [
      {
        name: "flink-main-container",
        env: [
          { name: "MODE", value: "shared" },
          { name: "DB_PASSWORD", valueFrom: { secretKeyRef: { name: "db", key: "password" } } },
        ],
        volumeMounts: [{ name: "certs", mountPath: "/etc/certs", readOnly: true }],
      },
    ],
    volumes: [{ name: "certs", secret: { secretName: "orders-certs" } }],
    nodeSelector: { pool: "flink" },
    tolerations: [{ key: "dedicated", operator: "Equal", value: "flink", effect: "NoSchedule" }],
    imagePullSecrets: [{ name: "team-registry" }],
  },
};

test("a template's env, Secret volume and scheduling reach both pods; Meridian's own parts stay", () => {
  const s = spec({
    podTemplate: shared,
    taskManager: {
      ...SPEC_INPUT.taskManager,
      podTemplate: {
        spec: {
          containers: [{ name: "flink-main-container", env: [{ name: "MODE", value: "tm" }] }],
          tolerations: [{ key: "spot", operator: "Exists" }],
        },
      },
    },
  });
  const jm = buildJobManagerPod(ctx(s, ["meridian-pull"]), owner, run);
  const tm = buildTaskManagerPod(ctx(s, ["meridian-pull"]), owner, run, 0);
  for (const pod of [jm, tm]) {
    const c = pod.spec!.containers[0]!;
    const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));
    assert.deepEqual(env.DB_PASSWORD, { secretKeyRef: { name: "db", key: "password" } });
    assert.ok(env.POD_IP, "Meridian's env stays");
    assert.ok(c.volumeMounts?.some((m) => m.mountPath === "/etc/certs" && m.name === "certs"));
    assert.ok(c.volumeMounts?.some((m) => m.mountPath === "/opt/flink/conf"));
    assert.ok(pod.spec!.volumes?.some((v) => v.name === "certs" && v.secret?.secretName === "orders-certs"));
    assert.equal(pod.metadata?.labels?.team, "orders");
    assert.equal(pod.metadata?.labels?.["app.kubernetes.io/part-of"], "meridian");
    assert.deepEqual(pod.spec!.nodeSelector, { pool: "flink" });
    assert.deepEqual(pod.spec!.imagePullSecrets, [{ name: "meridian-pull" }, { name: "team-registry" }]);
    assert.equal(c.securityContext?.runAsNonRoot, true);
    assert.equal(pod.spec!.automountServiceAccountToken, false);
  }
  const mode = (p: typeof jm) => p.spec!.containers[0]!.env?.find((e) => e.name === "MODE")?.value;
  assert.equal(mode(jm), "shared");
  assert.equal(mode(tm), "tm", "the component's template replaces an env entry of the same name");
  assert.equal(jm.spec!.tolerations?.length, 1);
  assert.equal(tm.spec!.tolerations?.length, 2, "tolerations are concatenated");
  assert.deepEqual(tm.spec!.containers[0]!.args, ["taskmanager"]);
});

test("merge: maps key by key, named lists by name, scalars replaced", () => {
  const merged = mergePodTemplates(
    {
      metadata: { labels: { a: "1", b: "1" } },
      spec: { priorityClassName: "low", volumes: shared.spec!.volumes },
    },
    {
      metadata: { labels: { b: "2" } },
      spec: {
        priorityClassName: "high",
        volumes: [
          { name: "certs", emptyDir: {} },
          { name: "x", emptyDir: {} },
        ],
      },
    },
  );
  assert.deepEqual(merged?.metadata?.labels, { a: "1", b: "2" });
  assert.equal(merged?.spec?.priorityClassName, "high");
  assert.deepEqual(
    merged?.spec?.volumes?.map((v) => [v.name, Object.keys(v).sort().join()]),
    [
      ["certs", "emptyDir,name"],
      ["x", "emptyDir,name"],
    ],
  );
});

test("a sidecar runs with Meridian's security context; the policy can forbid sidecars and init containers", () => {
  const s = spec({
    podTemplate: {
      spec: {
        containers: [{ name: "log-shipper", image: "fluent/fluent-bit:3.0" }],
        initContainers: [{ name: "wait", image: "busybox:1.36", command: ["true"] }],
      },
    },
  });
  const jm = buildJobManagerPod(ctx(s), owner, run);
  assert.deepEqual(
    jm.spec!.containers.map((c) => c.name),
    ["jobmanager", "log-shipper"],
  );
  assert.equal(jm.spec!.containers[1]!.securityContext?.allowPrivilegeEscalation, false);
  assert.equal(jm.spec!.initContainers?.[0]?.securityContext?.runAsNonRoot, true);
  assert.equal(refuseSpec(s, policy), undefined);
  const noSidecars = refuseSpec(s, {
    ...policy,
    podTemplates: { allowInitContainers: true, allowSidecars: false },
  });
  assert.equal(noSidecars?.field, "podTemplate.spec.containers[0]");
  assert.match(noSidecars?.message ?? "", /allowSidecars/);
  const noInit = refuseSpec(s, {
    ...policy,
    podTemplates: { allowInitContainers: false, allowSidecars: true },
  });
  assert.equal(noInit?.field, "podTemplate.spec.initContainers[0]");
  const registry = refuseSpec(s, { ...policy, allowedRegistries: ["docker.io/library/flink"] });
  assert.equal(registry?.field, "podTemplate.spec.containers[0].image");
});

test("the schema refuses what Meridian owns, naming the field", () => {
  const refused = (podTemplate: unknown, component?: "jobManager" | "taskManager") => {
    const input = component
      ? { ...SPEC_INPUT, [component]: { ...SPEC_INPUT[component], podTemplate } }
      : { ...SPEC_INPUT, podTemplate };
    const r = deploymentSpec.safeParse(input);
    assert.equal(r.success, false, JSON.stringify(podTemplate));
    return r.error!.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n");
  };
  const main = (extra: object) => ({ spec: { containers: [{ name: "flink-main-container", ...extra }] } });
  assert.match(
    refused(main({ command: ["sh"] })),
    /podTemplate\.spec\.containers\.0\.command: command is owned by Meridian/,
  );
  assert.match(
    refused(main({ args: ["x"] }), "taskManager"),
    /taskManager\.podTemplate\.spec\.containers\.0\.args: args is owned/,
  );
  assert.match(
    refused(main({ securityContext: { privileged: true } })),
    /securityContext is owned by Meridian/,
  );
  assert.match(refused(main({ ports: [{ containerPort: 1 }] })), /ports are owned by Meridian/);
  assert.match(
    refused({ spec: { securityContext: { runAsUser: 0 } } }),
    /spec\.securityContext: spec\.securityContext is owned/,
  );
  assert.match(refused({ spec: { serviceAccountName: "x" } }), /serviceAccountName is owned by Meridian/);
  assert.match(refused({ spec: { hostNetwork: true } }), /hostNetwork is never allowed/);
  assert.match(
    refused({ spec: { volumes: [{ name: "root", hostPath: { path: "/" } }] } }),
    /volumes\.0\.hostPath: hostPath volumes are never allowed/,
  );
  assert.match(refused({ metadata: { labels: { "meridian.dev/deployment": "other" } } }), /contract/);
  assert.match(refused({ metadata: { labels: { "app.kubernetes.io/component": "x" } } }), /contract/);
  assert.match(refused({ spec: { nodeName: "n1" } }), /nodeName/);
  assert.match(refused({ spec: { containers: [{ name: "side" }] } }), /needs an image/);
});

test("a template may not take Meridian's volumes, mount paths or env, nor mount what it does not define", () => {
  const mainWith = (extra: object, volumes: object[] = []) =>
    spec({
      podTemplate: {
        spec: { containers: [{ name: "flink-main-container", ...extra }], volumes },
      } as PodTemplate,
    });
  const at = (s: ReturnType<typeof spec>) => refuseSpec(s, policy);
  assert.equal(
    at(
      mainWith({ volumeMounts: [{ name: "c", mountPath: "/opt/flink/conf/x" }] }, [
        { name: "c", emptyDir: {} },
      ]),
    )?.field,
    "podTemplate.spec.containers[0].volumeMounts[0].mountPath",
  );
  assert.equal(
    at(mainWith({}, [{ name: "flink-config", emptyDir: {} }]))?.field,
    "podTemplate.spec.volumes[0].name",
  );
  assert.equal(
    at(mainWith({ env: [{ name: "POD_IP", value: "1" }] }))?.field,
    "podTemplate.spec.containers[0].env[0].name",
  );
  const missing = at(mainWith({ volumeMounts: [{ name: "nope", mountPath: "/data" }] }));
  assert.match(missing?.message ?? "", /does not define/);
});

test("the spec hash changes with a template and stays as before without one", () => {
  const plain = spec({});
  const withTemplate = spec({ podTemplate: shared });
  assert.equal(specHash(plain), specHash(spec({})));
  assert.notEqual(specHash(plain), specHash(withTemplate));
  const reordered = spec({ podTemplate: { spec: shared.spec!, metadata: shared.metadata! } });
  assert.equal(specHash(withTemplate), specHash(reordered));
});
