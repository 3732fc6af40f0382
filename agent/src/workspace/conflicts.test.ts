import assert from "node:assert/strict";
import { test } from "node:test";
import {
  DEPLOYMENTS,
  type KubeObject,
  NAMESPACES,
  type ResourceType,
  ROLES,
  SECRETS,
  SERVICE_ACCOUNTS,
} from "@meridian/shared/kube/resources";
import { findConflicts } from "./conflicts.ts";
import type { DesiredObject } from "./objects.ts";

/** What the check reads of the desired objects: their kind and name (the builders are tested elsewhere). */
const desired: DesiredObject[] = [
  { type: NAMESPACES, object: { metadata: { name: "mw-team-a" } } },
  {
    type: SERVICE_ACCOUNTS,
    object: { metadata: { name: "meridian-workspace-agent", namespace: "mw-team-a" } },
  },
  { type: ROLES, object: { metadata: { name: "meridian-workspace-agent", namespace: "mw-team-a" } } },
  { type: DEPLOYMENTS, object: { metadata: { name: "meridian-workspace-agent", namespace: "mw-team-a" } } },
];

/** A stand-in for the caches' foreign(): these objects exist and are not Meridian's. */
function cachesWith(objs: { type: ResourceType; obj: KubeObject }[]) {
  const asked: string[] = [];
  return {
    asked,
    foreign(type: ResourceType, namespace: string | undefined, name: string) {
      asked.push(`${type.kind} ${namespace ?? ""}/${name}`);
      return objs.find(
        (o) => o.type === type && o.obj.metadata?.name === name && o.obj.metadata?.namespace === namespace,
      )?.obj;
    },
  };
}

test("nothing in the way: no conflict, and every object, the credential Secret too, was looked at", () => {
  const caches = cachesWith([]);
  assert.deepEqual(findConflicts(caches, "team-a", "mw-", desired), []);
  assert.deepEqual(caches.asked, [
    "Namespace /mw-team-a",
    "ServiceAccount mw-team-a/meridian-workspace-agent",
    "Role mw-team-a/meridian-workspace-agent",
    "Deployment mw-team-a/meridian-workspace-agent",
    "Secret mw-team-a/meridian-workspace-credential",
  ]);
});

test("a customer's namespace is named with why it is not ours and the ways out", () => {
  const caches = cachesWith([
    { type: NAMESPACES, obj: { metadata: { name: "mw-team-a", labels: { team: "x" } } } },
  ]);
  const [c, ...more] = findConflicts(caches, "team-a", "mw-", desired);
  assert.deepEqual(more, []);
  assert.equal(c?.kind, "Namespace");
  assert.equal(c?.name, "mw-team-a");
  assert.equal(
    c?.message,
    "Namespace mw-team-a already exists and is not Meridian's (it has no label app.kubernetes.io/managed-by " +
      "and it has no label meridian.dev/workspace; Meridian's carry app.kubernetes.io/managed-by=meridian-agent " +
      "and meridian.dev/workspace=team-a); workspace team-a is refused and nothing was written or deleted. " +
      "To fix: choose another workspace id or local-policy namespacePrefix, or remove the namespace; " +
      "if Meridian created it and only its labels were removed, put the labels back",
  );
});

test("objects inside the namespace, the credential Secret included, are each reported", () => {
  const labels = { "app.kubernetes.io/managed-by": "meridian-agent", "meridian.dev/workspace": "other" };
  const caches = cachesWith([
    { type: ROLES, obj: { metadata: { name: "meridian-workspace-agent", namespace: "mw-team-a" } } },
    {
      type: SECRETS,
      obj: { metadata: { name: "meridian-workspace-credential", namespace: "mw-team-a", labels } },
    },
  ]);
  const conflicts = findConflicts(caches, "team-a", "mw-", desired);
  assert.deepEqual(
    conflicts.map((c) => `${c.kind} ${c.namespace}/${c.name}`),
    ["Role mw-team-a/meridian-workspace-agent", "Secret mw-team-a/meridian-workspace-credential"],
  );
  assert.match(conflicts[0]?.message ?? "", /remove or rename that Role \(Meridian needs the name\)/);
  assert.match(
    conflicts[1]?.message ?? "",
    /its label meridian.dev\/workspace is "other" \(another workspace\)/,
  );
});
