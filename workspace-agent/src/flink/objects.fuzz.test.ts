// Property-based fuzzing of the Flink renderer: every deployment spec the protocol accepts renders
// without a throw into a ConfigMap, a Service and pods that carry Meridian's labels, have names the
// API server accepts and fit its size limits, and whose config.yaml reads back (as YAML, the way
// Flink reads it) to exactly the spec's flinkConfiguration, the defaults it does not override and
// Meridian's own keys. (test/fuzz/dry-run.test.ts sends a sample to the API server.)
import assert from "node:assert/strict";
import { test } from "node:test";
import { fuzzParams } from "@meridian/shared/fuzz.testutil";
import {
  COMPONENT_JOBMANAGER,
  COMPONENT_TASKMANAGER,
  LABEL_COMPONENT,
  LABEL_DEPLOYMENT,
  LABEL_WORKSPACE,
  MANAGED_BY_WORKSPACE_AGENT,
} from "@meridian/shared/kube/labels";
import {
  assertConfigMapSize,
  assertMeridianLabels,
  assertValidMetadata,
  isDns1035Label,
  isDnsLabel,
} from "@meridian/shared/kube/validity.testutil";
import { MERIDIAN_OWNED_FLINK_KEYS, taskManagerReplicas } from "@meridian/shared/protocol/index";
import fc from "fast-check";
import { parse as parseYaml } from "yaml";
import { rendering } from "./arbitraries.testutil.ts";
import {
  buildConfigMap,
  buildJobManagerPod,
  buildService,
  buildTaskManagerPod,
  DEFAULT_FLINK_CONFIG,
  serviceHost,
} from "./objects.ts";
import { checkpointDefaults, haDefaults } from "./state-config.ts";

const SAVEPOINT_DIR = "execution.checkpointing.savepoint-dir";

test("every accepted deployment renders, labelled, validly named, config.yaml reading back exactly", () => {
  fc.assert(
    fc.property(rendering, ({ ctx, owner, run, state }) => {
      const { spec } = ctx;
      const labels = { [LABEL_WORKSPACE]: ctx.workspaceId, [LABEL_DEPLOYMENT]: spec.name };
      const cm = buildConfigMap(ctx, state);
      const svc = buildService(ctx, owner);
      const pods = [
        buildJobManagerPod(ctx, owner, run),
        ...Array.from({ length: taskManagerReplicas(spec) }, (_, i) =>
          buildTaskManagerPod(ctx, owner, run, i),
        ),
      ];
      assertMeridianLabels(cm, MANAGED_BY_WORKSPACE_AGENT, labels);
      assertMeridianLabels(svc, MANAGED_BY_WORKSPACE_AGENT, {
        ...labels,
        [LABEL_COMPONENT]: COMPONENT_JOBMANAGER,
      });
      assertValidMetadata(svc, isDns1035Label);
      for (const [i, pod] of pods.entries()) {
        const component = i === 0 ? COMPONENT_JOBMANAGER : COMPONENT_TASKMANAGER;
        assertMeridianLabels(pod, MANAGED_BY_WORKSPACE_AGENT, { ...labels, [LABEL_COMPONENT]: component });
        // A pod's name is its hostname too: a DNS label.
        assertValidMetadata(pod, isDnsLabel);
        for (const [k, v] of Object.entries(svc.spec?.selector ?? {}))
          if (i === 0) assert.equal(pod.metadata?.labels?.[k], v, "the Service selects the JobManager");
        assert.deepEqual(pod.metadata?.ownerReferences?.[0]?.uid, owner.uid);
      }

      // config.yaml as Flink reads it: the spec's keys as given, defaults under them, Meridian's on top.
      const conf = parseYaml(cm.data?.["config.yaml"] ?? "") as Record<string, unknown>;
      // The new key if present (even empty), else the deprecated one, as Flink falls back; empty: Meridian's.
      const own = spec.flinkConfiguration[SAVEPOINT_DIR] ?? spec.flinkConfiguration["state.savepoints.dir"];
      const expected: Record<string, unknown> = {
        ...DEFAULT_FLINK_CONFIG,
        ...checkpointDefaults(spec, ctx.storage),
        ...haDefaults(spec, ctx.storage),
        "jobmanager.memory.process.size": conf["jobmanager.memory.process.size"],
        "taskmanager.memory.process.size": conf["taskmanager.memory.process.size"],
        ...spec.flinkConfiguration,
        [SAVEPOINT_DIR]: own || `${ctx.savepointBaseDir ?? "file:///flink-data/savepoints"}/${spec.name}`,
        "jobmanager.rpc.address": serviceHost(spec.name, ctx.namespace),
        "taskmanager.numberOfTaskSlots": String(spec.taskManager.taskSlots),
        "parallelism.default": String(spec.parallelism),
      };
      for (const k of Object.keys(MERIDIAN_OWNED_FLINK_KEYS)) expected[k] ??= conf[k];
      assert.deepEqual(conf, expected);
      for (const k of Object.keys(MERIDIAN_OWNED_FLINK_KEYS)) assert.equal(typeof conf[k], "string", k);
      for (const k of ["jobmanager.memory.process.size", "taskmanager.memory.process.size"])
        assert.match(String(conf[k]), /^\d+m$/, `${k} is a Flink memory size in MiB`);
    }),
    fuzzParams(150),
  );
});

test("every accepted deployment's objects fit the API server's size limits", () => {
  fc.assert(
    fc.property(rendering, ({ ctx, owner, run, state }) => {
      const cm = buildConfigMap(ctx, state);
      assertValidMetadata(cm);
      assertConfigMapSize(cm);
      assertValidMetadata(buildJobManagerPod(ctx, owner, run), isDnsLabel);
    }),
    fuzzParams(100),
  );
});
