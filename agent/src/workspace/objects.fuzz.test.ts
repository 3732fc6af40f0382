// Property-based fuzzing of the workspace renderer: every spec the protocol accepts (valid ones and
// mutated ones that still pass), under any valid namespace prefix and agent configuration, renders
// without a throw into objects that carry Meridian's labels, have names and labels the API server
// accepts, and say what the spec says. (test/fuzz/dry-run.test.ts sends a sample to the API server.)
import assert from "node:assert/strict";
import { test } from "node:test";
import { fuzzParams } from "@meridian/shared/fuzz.testutil";
import { LABEL_WORKSPACE, MANAGED_BY_AGENT } from "@meridian/shared/kube/labels";
import { NAMESPACES } from "@meridian/shared/kube/resources";
import {
  assertMeridianLabels,
  assertValidMetadata,
  isDnsLabel,
} from "@meridian/shared/kube/validity.testutil";
import fc from "fast-check";
import { acceptedWorkspaceSpec, buildContext } from "./arbitraries.testutil.ts";
import { desiredObjects, namespaceName } from "./objects.ts";

// biome-ignore lint/suspicious/noExplicitAny: tests navigate built objects freely
type Obj = Record<string, any>;

test("every accepted workspace renders, labelled, validly named, saying what the spec says", () => {
  fc.assert(
    fc.property(acceptedWorkspaceSpec, buildContext, (spec, ctx) => {
      const objs = desiredObjects(spec, ctx);
      const ns = namespaceName(ctx.namespacePrefix, spec.id);
      assert.ok(isDnsLabel(ns), `namespace ${ns}`);
      assert.equal(objs[0]?.type, NAMESPACES, "the Namespace comes first");
      for (const { type, object } of objs) {
        const o = { ...object, kind: type.kind };
        assertValidMetadata(o, type === NAMESPACES ? isDnsLabel : undefined);
        assertMeridianLabels(o, MANAGED_BY_AGENT, { [LABEL_WORKSPACE]: spec.id });
        assert.equal(object.metadata?.namespace, type.namespaced ? ns : undefined);
        assert.doesNotThrow(() => JSON.stringify(object));
      }
      const quota = objs.find((o) => o.type.kind === "ResourceQuota")?.object as Obj;
      assert.deepEqual(quota.spec.hard, {
        "requests.cpu": spec.quota.cpu,
        "limits.cpu": spec.quota.cpu,
        "requests.memory": spec.quota.memory,
        "limits.memory": spec.quota.memory,
        pods: String(spec.quota.pods),
      });
      const deployment = objs.find((o) => o.type.kind === "Deployment")?.object as Obj;
      const template = deployment.spec.template;
      for (const [k, v] of Object.entries(deployment.spec.selector.matchLabels))
        assert.equal(template.metadata.labels[k], v, "the pod template matches its selector");
      const container = template.spec.containers[0];
      assert.equal(container.image, ctx.image);
      if (spec.workspaceAgent.resources) assert.deepEqual(container.resources, spec.workspaceAgent.resources);
      const env = Object.fromEntries(container.env.map((e: Obj) => [e.name, e.value]));
      assert.equal(env.MERIDIAN_WORKSPACE_ID, spec.id);
      for (const e of container.env) assert.ok(typeof e.value === "string" || e.valueFrom, `env ${e.name}`);
    }),
    fuzzParams(300),
  );
});
