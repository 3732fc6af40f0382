// Property-based fuzzing of the protocol schemas: any JSON and any mutation of a valid spec is either
// accepted or refused with at least one issue that has a path and a message (never a throw), a
// refusal names the field that was changed, what is accepted keeps what was sent and comes back the
// same through JSON, and every spec the documentation allows is accepted.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { z } from "zod";
import { fuzzParams } from "../fuzz.testutil.ts";
import { deploymentSpecInput, mutated, workspaceSpecInput } from "./arbitraries.testutil.ts";
import { deploymentSpec, streamedDeploymentSpec } from "./deployment.ts";
import { agentEvents, describeIssues, parseEvent, showEventType, workspaceEvents } from "./events.ts";
import { MAX_JOB_ARG_LENGTH } from "./limits.ts";
import { workspaceSpec } from "./workspace.ts";

/** What the streams accept of each kind. */
const SPECS = { workspace: workspaceSpec, deployment: streamedDeploymentSpec } as const;
const INPUTS = { workspace: workspaceSpecInput, deployment: deploymentSpecInput } as const;
const kinds = fc.constantFrom("workspace" as const, "deployment" as const);

/** safeParse must not throw, and a failure must say where and why. */
function parseChecked(schema: z.ZodType, input: unknown): z.ZodSafeParseResult<unknown> {
  const r = schema.safeParse(input);
  if (!r.success) {
    assert.ok(r.error.issues.length > 0, "a refusal has at least one issue");
    for (const i of r.error.issues) {
      assert.ok(Array.isArray(i.path), "every issue has a path");
      assert.ok(typeof i.message === "string" && i.message.length > 0, "every issue has a message");
    }
    assert.ok(describeIssues(r.error).length > 0);
  }
  return r;
}

/** Through JSON and back: an accepted value parses again to the same JSON. */
function assertRoundTrip(schema: z.ZodType, data: unknown): void {
  const again = schema.safeParse(JSON.parse(JSON.stringify(data)));
  assert.ok(
    again.success,
    `the accepted value is accepted again: ${!again.success && describeIssues(again.error)}`,
  );
  assert.equal(JSON.stringify(again.data), JSON.stringify(data));
}

const related = (a: readonly PropertyKey[], b: readonly PropertyKey[]) => {
  const n = Math.min(a.length, b.length);
  return a.slice(0, n).every((k, i) => String(k) === String(b[i]));
};

test("every spec the protocol documents is accepted, keeps what was sent, and round-trips", () => {
  fc.assert(
    fc.property(
      kinds.chain((k) => INPUTS[k].map((input) => ({ k, input }))),
      ({ k, input }) => {
        const r = parseChecked(SPECS[k], input);
        assert.ok(r.success, `refused: ${!r.success && describeIssues(r.error)}`);
        assertRoundTrip(SPECS[k], r.data);
        if (k === "deployment") {
          const sent = Object.keys(
            (input as { flinkConfiguration?: object }).flinkConfiguration ?? {},
          ).sort();
          const kept = Object.keys((r.data as { flinkConfiguration: object }).flinkConfiguration).sort();
          assert.deepEqual(kept, sent, "every flinkConfiguration key sent is kept (or the spec refused)");
        }
      },
    ),
    fuzzParams(200),
  );
});

test("a valid spec with one field changed is accepted and round-trips, or refused naming that field", () => {
  fc.assert(
    fc.property(
      kinds.chain((k) => mutated(INPUTS[k]).map((m) => ({ k, m }))),
      ({ k, m }) => {
        const r = parseChecked(SPECS[k], m.value);
        if (r.success) {
          assertRoundTrip(SPECS[k], r.data);
          return;
        }
        assert.ok(
          r.error.issues.some((i) => related(i.path, m.path)),
          `a ${m.kind} at ${m.path.join(".") || "(root)"} is refused for ${describeIssues(r.error)}`,
        );
      },
    ),
    fuzzParams(500),
  );
});

test("any JSON as any event: parseEvent never throws, refusals name the type, accepted events round-trip", () => {
  const maps = [agentEvents, workspaceEvents] as const;
  const typeOf = fc.oneof(
    fc.constantFrom(
      ...Object.keys(agentEvents),
      ...Object.keys(workspaceEvents),
      "__proto__",
      "constructor",
      "",
    ),
    fc.string({ maxLength: 12 }),
  );
  const wrap = (k: "workspace" | "deployment", spec: unknown, type: string): unknown => {
    if (type === "snapshot")
      return k === "workspace" ? { workspaces: [spec] } : { workspaceId: "w", deployments: [spec] };
    return k === "workspace" ? { workspace: spec } : { deployment: spec };
  };
  const data = fc.oneof(
    fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
    fc.string({ maxLength: 40 }),
    fc.constantFrom("", "{", "[".repeat(5000) + "]".repeat(5000), '{"__proto__":{"workspaces":[]}}'),
    fc
      .tuple(kinds, typeOf)
      .chain(([k, type]) => mutated(INPUTS[k]).map((m) => JSON.stringify(wrap(k, m.value, type)) ?? "")),
  );
  fc.assert(
    fc.property(
      fc.constantFrom(0, 1),
      typeOf,
      fc.option(fc.string({ maxLength: 4 }), { nil: undefined }),
      data,
      (mi, type, id, text) => {
        const map = maps[mi]!;
        const r = parseEvent(map, type, id, text);
        if (!r.ok) {
          assert.ok(r.error.includes(showEventType(type)), `the reason names the event type: ${r.error}`);
          return;
        }
        assert.equal(r.event.type, type);
        assert.equal(r.event.id, id);
        const schema = map[type as keyof typeof map] as z.ZodType;
        const { refused, ...rest } = r.event.data as { refused?: { error: string }[] };
        for (const item of refused ?? [])
          assert.ok(item.error.length > 0, "a refused snapshot item has a reason");
        // A snapshot's accepted items alone make a snapshot that is accepted whole.
        const again = schema.safeParse(JSON.parse(JSON.stringify(rest)));
        assert.ok(again.success);
        const { refused: none, ...restAgain } = again.data as { refused?: unknown[] };
        assert.deepEqual(none ?? [], []);
        assert.equal(JSON.stringify(restAgain), JSON.stringify(rest));
      },
    ),
    fuzzParams(500),
  );
});

test("found: a __proto__ key in flinkConfiguration is refused with a reason, not dropped without a word", () => {
  const input = JSON.parse(
    `{"flinkConfiguration": {"__proto__": "1", "a.b": "2"}, "name": "orders", "generation": 1, "image": "flink:2.3.0",
      "job": {"jarURI": "local:///opt/flink/usrlib/job.jar", "entryClass": "org.example.Job"}, "parallelism": 1,
      "jobManager": {"resources": {"cpu": "1", "memory": "1Gi"}},
      "taskManager": {"resources": {"cpu": "1", "memory": "1Gi"}, "taskSlots": 1}, "state": "RUNNING"}`,
  );
  const r = deploymentSpec.safeParse(input);
  assert.equal(r.success, false);
  assert.match(describeIssues(r.error!), /^flinkConfiguration: has the key "__proto__"/);
});

test("found: a workspace agent asking for more than its limits is refused (the API server refuses such a pod)", () => {
  const r = workspaceSpec.safeParse({
    id: "team-a",
    generation: 1,
    quota: { cpu: "4", memory: "8Gi" },
    workspaceAgent: {
      resources: { requests: { cpu: "2", memory: "1Gi" }, limits: { cpu: "500m", memory: "1Gi" } },
    },
  });
  assert.equal(r.success, false);
  assert.match(
    describeIssues(r.error!),
    /^workspaceAgent\.resources: requests\.cpu 2 is more than limits\.cpu 500m/,
  );
});

test("found: a deployment spec within every field limit but past the spec's byte limit is refused, naming it", () => {
  const spec = {
    name: "orders",
    generation: 1,
    image: "flink:2.3.0",
    job: {
      jarURI: "local:///opt/flink/usrlib/job.jar",
      entryClass: "org.example.Job",
      args: Array.from({ length: 64 }, () => "a".repeat(MAX_JOB_ARG_LENGTH)),
    },
    parallelism: 1,
    jobManager: { resources: { cpu: "1", memory: "1Gi" } },
    taskManager: { resources: { cpu: "1", memory: "1Gi" }, taskSlots: 1 },
    state: "RUNNING",
  };
  assert.ok(deploymentSpec.safeParse(spec).success, "every field is within its own limit");
  const r = parseEvent(workspaceEvents, "deployment.upsert", "1", JSON.stringify({ deployment: spec }));
  assert.equal(r.ok, false);
  assert.match(
    !r.ok ? r.error : "",
    /deployment: the spec takes \d+ bytes as JSON, more than the limit of 128 KiB/,
  );
});
