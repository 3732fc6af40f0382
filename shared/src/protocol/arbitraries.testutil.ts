// fast-check arbitraries of protocol v1 specs for the fuzz tests: valid ones (everything the schema's
// documentation allows, limits included, not only the comfortable middle) and mutations of them (one
// field replaced, removed, added or pushed past its limit), so the schemas, the renderers and the API
// server's dry run all see the same inputs.
import { compareQuantities } from "@meridian/shared/kube/quantity";
import fc from "fast-check";
import { MERIDIAN_OWNED_FLINK_KEYS } from "./flink-configuration.ts";
import {
  MAX_CONFIG_ENTRIES,
  MAX_CONFIG_KEY_LENGTH,
  MAX_CONFIG_VALUE_LENGTH,
  MAX_DEPLOYMENT_SPEC_BYTES,
  MAX_DISPLAY_NAME_LENGTH,
  MAX_JOB_ARG_LENGTH,
  MAX_JOB_ARGS,
} from "./limits.ts";

/** A string of exactly `length` characters from `unit` repeated: cheap to make at any size. */
const sized = (unit: string, length: number) => unit.repeat(Math.ceil(length / unit.length)).slice(0, length);

/** Short, long, at the limit: a string of at most `max` characters. */
export function boundedString(max: number, opts: { printable?: boolean } = {}): fc.Arbitrary<string> {
  const chars = opts.printable
    ? fc.string({ unit: "grapheme", maxLength: 24 })
    : fc.string({ maxLength: 24 });
  return fc.oneof(
    { weight: 8, arbitrary: chars.map((s) => s.slice(0, max)) },
    { weight: 1, arbitrary: fc.constantFrom("ü€", "x", "\"'", ": # -").map((u) => sized(u, max)) },
  );
}

/** DNS-1123 labels of 1..max characters (a workspace id), as often as not of the longest length. */
export const dnsLabel = (max: number) =>
  fc
    .tuple(
      fc.stringMatching(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/),
      fc.constantFrom("a", "0", "z9"),
      fc.boolean(),
    )
    .map(([s, pad, longest]) => {
      const label = longest ? `${s}${sized(`-${pad}`, max)}`.slice(0, max) : s.slice(0, max);
      return label.replace(/-+$/, "") || pad;
    });

/** DNS-1035 labels of 1..max characters (a deployment name). */
export const dns1035Label = (max: number) =>
  dnsLabel(max - 1).map((s) => `d${s}`.slice(0, max).replace(/-+$/, ""));

/** Kubernetes quantities the protocol accepts: everyday ones, fractions, every suffix, extremes. */
export const quantity = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom("1", "2", "500m", "250m", "1Gi", "512Mi", "1536Mi", "4", "8Gi", "100m"),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.integer({ min: 0, max: 99999 }),
        fc.option(fc.integer({ min: 0, max: 999 }), { nil: undefined }),
        fc.constantFrom("", "m", "k", "M", "G", "T", "Ki", "Mi", "Gi", "Ti"),
      )
      .map(([n, f, s]) => `${n}${f === undefined ? "" : `.${f}`}${s}`),
  },
  { weight: 1, arbitrary: fc.constantFrom("0", "0.001", "1E", "1Ei", "99999999999999999999", "9Pi", "0.5") },
);

const resources = fc.record({ cpu: quantity, memory: quantity });

/** Workspace specs as the control plane sends them (before the schema's defaults). */
export const workspaceSpecInput = fc.record(
  {
    id: dnsLabel(40),
    generation: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    displayName: boundedString(MAX_DISPLAY_NAME_LENGTH),
    quota: fc.record(
      { cpu: quantity, memory: quantity, pods: fc.integer({ min: 1, max: 1000 }) },
      { requiredKeys: ["cpu", "memory"] },
    ),
    workspaceAgent: fc.record(
      {
        image: fc.constantFrom(
          "ghcr.io/meridian-dev/meridian-workspace-agent:0.1.0",
          "registry.example.com:5000/team/agent@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ),
        resources: fc.tuple(resources, resources).map(([a, b]) => {
          const [cpuLow, cpuHigh] = compareQuantities(a.cpu, b.cpu) <= 0 ? [a.cpu, b.cpu] : [b.cpu, a.cpu];
          const [memLow, memHigh] =
            compareQuantities(a.memory, b.memory) <= 0 ? [a.memory, b.memory] : [b.memory, a.memory];
          return { requests: { cpu: cpuLow, memory: memLow }, limits: { cpu: cpuHigh, memory: memHigh } };
        }),
        logLevel: fc.constantFrom("debug", "info", "warn", "error"),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: ["id", "generation", "quota"] },
);

/** Keys in Flink's grammar, none of Meridian's own, JavaScript's special names among them. */
const flinkKey = fc
  .oneof(
    { weight: 6, arbitrary: fc.stringMatching(/^[a-z][a-z0-9-]{0,12}(\.[a-zA-Z0-9_-]{1,12}){0,4}$/) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        "state.savepoints.dir",
        "execution.checkpointing.savepoint-dir",
        "restart-strategy.type",
        "containerized.master.env.JAVA_TOOL_OPTIONS",
        "constructor",
        "toString",
        "hasOwnProperty",
        "yes",
        "null",
        "1",
        "true",
      ),
    },
    { weight: 1, arbitrary: fc.constant(sized("a.b-c_D", MAX_CONFIG_KEY_LENGTH)) },
  )
  .filter((k) => !Object.hasOwn(MERIDIAN_OWNED_FLINK_KEYS, k));

/** Values YAML must carry unchanged: its special words, numbers, quotes, line breaks, any script. */
const flinkValue = fc.oneof(
  { weight: 4, arbitrary: boundedString(64, { printable: true }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "",
      "true",
      "no",
      "~",
      "null",
      "1e3",
      "0x10",
      "010",
      ".inf",
      "- a",
      "[a, b]",
      "{a: 1}",
      "a: b",
      "# not a comment",
      "  leading",
      "trailing  ",
      "line\nbreak",
      "crlf\r\n",
      "tab\there",
      "'single'",
      '"double"',
      "\\",
      "&anchor",
      "*alias",
      "!tag",
      "%",
      "@",
      "`",
      "💥",
      "s3://bucket/savepoints",
    ),
  },
  { weight: 1, arbitrary: fc.constant(sized("v: 1 # ü\n", MAX_CONFIG_VALUE_LENGTH)) },
);

/** Bytes per entry when 256 entries take 90 % of a deployment spec's byte limit. */
const SHARE = Math.floor((MAX_DEPLOYMENT_SPEC_BYTES * 0.9) / 256);

const flinkConfiguration = fc.oneof(
  { weight: 30, arbitrary: fc.dictionary(flinkKey, flinkValue, { maxKeys: 12 }) },
  // As many entries as allowed, together nearly all of the spec's byte limit (so the renderers'
  // size properties follow that limit if it ever grows).
  {
    weight: 3,
    arbitrary: fc.constant(
      Object.fromEntries(
        Array.from({ length: MAX_CONFIG_ENTRIES }, (_, i) => [
          `big.${i}.${sized("k", 40)}`,
          sized("x", SHARE - 50),
        ]),
      ),
    ),
  },
);

const jobArgs = fc.oneof(
  { weight: 30, arbitrary: fc.array(boundedString(40), { maxLength: 6 }) },
  // As many entries as allowed, together nearly all of the spec's byte limit, and one as long as allowed.
  {
    weight: 3,
    arbitrary: fc.constant(Array.from({ length: MAX_JOB_ARGS }, () => sized("--arg=1 ", SHARE - 6))),
  },
  { weight: 1, arbitrary: fc.constant([sized("--arg=1 ", MAX_JOB_ARG_LENGTH)]) },
);

/** Flink deployment specs as the control plane sends them (before the schema's defaults). */
export const deploymentSpecInput = fc
  .record(
    {
      name: dns1035Label(40),
      generation: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
      image: fc.constantFrom(
        "flink:2.3.0",
        "docker.io/library/flink:2.3.0-java17",
        `registry.example.com/flink@sha256:${"a".repeat(64)}`,
      ),
      job: fc.record(
        {
          jarURI: fc.constantFrom(
            "local:///opt/flink/usrlib/job.jar",
            "local:///opt/flink/examples/streaming/TopSpeedWindowing.jar",
          ),
          entryClass: fc.stringMatching(/^[A-Za-z_$][\w$]{0,10}(\.[A-Za-z_$][\w$]{0,10}){0,4}$/),
          args: jobArgs,
          allowNonRestoredState: fc.boolean(),
        },
        { requiredKeys: ["jarURI", "entryClass"] },
      ),
      parallelism: fc.integer({ min: 1, max: 1024 }),
      jobManager: fc.record({ resources }),
      taskManager: fc.record(
        { resources, taskSlots: fc.integer({ min: 1, max: 64 }), replicas: fc.integer({ min: 1, max: 256 }) },
        { requiredKeys: ["resources", "taskSlots"] },
      ),
      flinkConfiguration,
      state: fc.constantFrom("RUNNING", "SUSPENDED", "CANCELLED"),
      restartNonce: fc.nat(),
      savepointNonce: fc.nat(),
      upgradeMode: fc.constantFrom("STATELESS", "SAVEPOINT"),
    },
    {
      requiredKeys: [
        "name",
        "generation",
        "image",
        "job",
        "parallelism",
        "jobManager",
        "taskManager",
        "state",
      ],
    },
  )
  // A parallelism without replicas must not ask for more than 256 TaskManagers.
  .filter(
    (d) => d.taskManager.replicas !== undefined || Math.ceil(d.parallelism / d.taskManager.taskSlots) <= 256,
  )
  // Within the spec's byte limit (defaults add a few hundred bytes).
  .filter((d) => new TextEncoder().encode(JSON.stringify(d)).length <= MAX_DEPLOYMENT_SPEC_BYTES - 1024);

// ---- Mutations -----------------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every path into a JSON value, the root included. */
export function pathsOf(v: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out = [prefix];
  if (Array.isArray(v)) for (const [i, x] of v.entries()) out.push(...pathsOf(x, [...prefix, i]));
  else if (v !== null && typeof v === "object")
    for (const [k, x] of Object.entries(v)) out.push(...pathsOf(x, [...prefix, k]));
  return out;
}

export type MutationKind = "replace" | "remove" | "add" | "oversize";

export interface Mutated {
  value: unknown;
  path: (string | number)[];
  kind: MutationKind;
}

function apply(root: unknown, path: (string | number)[], kind: MutationKind, junk: unknown): unknown {
  const copy = structuredClone(root) as Json;
  if (path.length === 0) return kind === "remove" ? undefined : junk;
  const parent = path.slice(0, -1).reduce<Json>((o, k) => (o as Record<string, Json>)[k] as Json, copy) as
    | Record<string, Json>
    | Json[];
  const key = path.at(-1)!;
  const target = (parent as Record<string, Json>)[key];
  if (kind === "remove") {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key];
  } else if (kind === "add" && target !== null && typeof target === "object" && !Array.isArray(target))
    target[`fuzz-${String(junk).slice(0, 8)}`] = junk as Json;
  else if (kind === "oversize" && typeof target === "string")
    (parent as Record<string, Json>)[key] = sized(target || "x", 70_000);
  else if (kind === "oversize" && typeof target === "number")
    (parent as Record<string, Json>)[key] = target * 1e6 + 0.5;
  else (parent as Record<string, Json>)[key] = junk as Json;
  return copy;
}

/** `valid` with one thing changed at one path: replaced by any JSON, removed, added to, or oversized. */
export function mutated(valid: fc.Arbitrary<unknown>): fc.Arbitrary<Mutated> {
  return fc
    .tuple(
      valid,
      fc.nat(),
      fc.constantFrom<MutationKind>("replace", "replace", "remove", "add", "oversize"),
      fc.jsonValue({ maxDepth: 3 }),
    )
    .map(([v, n, kind, junk]) => {
      const paths = pathsOf(v);
      const path = paths[n % paths.length]!;
      return { value: apply(v, path, kind, junk), path, kind };
    });
}
