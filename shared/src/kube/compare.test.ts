import assert from "node:assert/strict";
import { test } from "node:test";
import { firstDifference, isSubset } from "./compare.ts";

const desired = {
  metadata: { name: "a", labels: { x: "1" } },
  spec: {
    replicas: 1,
    template: {
      spec: {
        containers: [
          {
            name: "c",
            image: "img:1",
            resources: { requests: { cpu: "1000m", memory: "1024Mi" } },
            securityContext: { allowPrivilegeEscalation: false },
          },
        ],
      },
    },
  },
};

const observed = {
  metadata: { name: "a", labels: { x: "1", "kubernetes.io/extra": "y" }, resourceVersion: "9" },
  spec: {
    replicas: 1,
    revisionHistoryLimit: 10,
    template: {
      spec: {
        containers: [
          {
            name: "c",
            image: "img:1",
            terminationMessagePath: "/dev/termination-log",
            resources: { requests: { cpu: "1", memory: "1Gi" } },
            securityContext: { allowPrivilegeEscalation: false },
          },
        ],
      },
    },
  },
};

test("defaults and other fields in observed are ignored; quantities compare semantically", () => {
  assert.equal(firstDifference(desired, observed), undefined);
  assert.ok(isSubset(desired, observed));
});

test("a changed, removed or extra element is found and named by path", () => {
  const edited = structuredClone(observed);
  edited.spec.template.spec.containers[0]!.image = "img:2";
  assert.equal(firstDifference(desired, edited), "spec.template.spec.containers[0].image");

  const unlabelled = structuredClone(observed) as { metadata: { labels?: Record<string, string> } };
  delete unlabelled.metadata.labels;
  assert.equal(firstDifference(desired, unlabelled), "metadata.labels");

  const twoContainers = structuredClone(observed);
  twoContainers.spec.template.spec.containers.push(
    structuredClone(twoContainers.spec.template.spec.containers[0]!),
  );
  assert.equal(firstDifference(desired, twoContainers), "spec.template.spec.containers");

  const moreCpu = structuredClone(observed);
  moreCpu.spec.template.spec.containers[0]!.resources.requests.cpu = "2";
  assert.equal(firstDifference(desired, moreCpu), "spec.template.spec.containers[0].resources.requests.cpu");
});

test("zero values match omitted fields, but not present different values", () => {
  assert.ok(isSubset({ a: false, b: [], c: {}, d: "" }, {}));
  assert.ok(!isSubset({ a: false }, { a: true }));
  assert.equal(firstDifference({ a: 1 }, undefined), "(root)");
  assert.equal(firstDifference({ a: { b: 1 } }, { a: "str" }), "a");
});

test("quantity semantics apply only under requests, limits and hard", () => {
  assert.ok(isSubset({ spec: { hard: { cpu: "2000m" } } }, { spec: { hard: { cpu: "2" } } }));
  assert.ok(!isSubset({ metadata: { labels: { v: "1000m" } } }, { metadata: { labels: { v: "1" } } }));
});
