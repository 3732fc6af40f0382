// Hostile JSON in the data of agent-stream events: text JSON.parse refuses, values JavaScript
// bends (1e400, -0, 2^53+1), keys that reach prototypes, the wrong shapes, and nesting at, over and
// around the limit of 32. Each is refused with a reason naming the field or the rule.
import { MAX_JSON_DEPTH } from "@meridian/shared/protocol/limits";
import { agentSnapshot, BAD_QUOTA, badWorkspace, nested, rawEvent, workspace } from "./bytes.ts";
import type { StreamInput } from "./types.ts";

const NOT_JSON = /^event "workspace\.upsert" is not valid JSON/;
const TOO_DEEP = new RegExp(`nests objects and arrays deeper than the limit of ${MAX_JSON_DEPTH}`);
const INVALID = (field: string) => new RegExp(`^event "workspace\\.upsert" is invalid: ${field}: `);
const upsertText = (text: string) => `{"workspace":${text}}`;
/** A workspace's JSON with `insert` placed right after its opening brace. */
const withFirst = (spec: Record<string, unknown>, insert: string) =>
  upsertText(`{${insert},${JSON.stringify(spec).slice(1)}`);

const entry = (
  e: Omit<StreamInput, "class" | "stream" | "bytes"> & { data?: string; bytes?: StreamInput["bytes"] },
): StreamInput => ({
  class: "json",
  stream: "agent",
  ...e,
  bytes: e.bytes ?? ((c) => rawEvent(c, "workspace.upsert", e.data ?? "")),
});

export const json: StreamInput[] = [
  entry({
    name: "trailing-garbage",
    what: "a valid workspace followed by ` xyz`",
    data: `${upsertText(JSON.stringify(workspace("trailing")))} xyz`,
    expect: { kind: "refused", reason: NOT_JSON },
  }),
  entry({
    name: "two-documents",
    what: "two JSON documents back to back",
    data: upsertText(JSON.stringify(workspace("two-a"))) + upsertText(JSON.stringify(workspace("two-b"))),
    expect: { kind: "refused", reason: NOT_JSON },
  }),
  entry({
    name: "duplicate-keys",
    what: 'a workspace with "id" twice: which one the control plane meant cannot be known',
    data: withFirst(workspace("dup-key-b"), '"id":"dup-key-a"'),
    expect: { kind: "refused", reason: /workspace: has the key "id" twice/ },
  }),
  entry({
    name: "number-overflow",
    what: "generation 1e400, which JavaScript reads as Infinity",
    data: withFirst(workspace("inf"), '"generation":1e400').replace(',"generation":1', ""),
    expect: { kind: "refused", reason: INVALID("workspace\\.generation") },
  }),
  entry({
    name: "negative-zero",
    what: "generation -0",
    data: upsertText(JSON.stringify(workspace("neg-zero")).replace('"generation":1', '"generation":-0')),
    expect: { kind: "refused", reason: INVALID("workspace\\.generation") },
  }),
  entry({
    name: "nan-literal",
    what: "generation NaN (not JSON)",
    data: upsertText(JSON.stringify(workspace("nan")).replace('"generation":1', '"generation":NaN')),
    expect: { kind: "refused", reason: NOT_JSON },
  }),
  entry({
    name: "infinity-literal",
    what: "generation Infinity (not JSON)",
    data: upsertText(
      JSON.stringify(workspace("infinity")).replace('"generation":1', '"generation":Infinity'),
    ),
    expect: { kind: "refused", reason: NOT_JSON },
  }),
  entry({
    name: "unsafe-integer",
    what: "generation 2^53 + 1, which a double cannot hold",
    data: upsertText(
      JSON.stringify(workspace("unsafe")).replace('"generation":1', '"generation":9007199254740993'),
    ),
    expect: { kind: "refused", reason: INVALID("workspace\\.generation") },
  }),
  entry({
    name: "fractional-generation",
    what: "generation 1.5",
    data: upsertText(JSON.stringify(workspace("frac", { generation: 1.5 }))),
    expect: { kind: "refused", reason: INVALID("workspace\\.generation") },
  }),
  entry({
    name: "string-generation",
    what: 'generation "1"',
    data: upsertText(JSON.stringify(workspace("str-gen", { generation: "1" }))),
    expect: { kind: "refused", reason: INVALID("workspace\\.generation") },
  }),
  entry({
    name: "proto-key-supplies-field",
    what: "the required generation given only inside a `__proto__` key",
    data: upsertText(`{"__proto__":{"generation":1},"id":"proto","quota":{"cpu":"1","memory":"1Gi"}}`),
    expect: { kind: "refused", reason: INVALID("workspace\\.generation") },
  }),
  entry({
    name: "proto-key-in-quota",
    what: "quota.cpu given only inside a `__proto__` key of quota",
    data: upsertText(`{"id":"proto-q","generation":1,"quota":{"__proto__":{"cpu":"1"},"memory":"1Gi"}}`),
    expect: { kind: "refused", reason: INVALID("workspace\\.quota\\.cpu") },
  }),
  entry({
    name: "constructor-prototype-keys",
    what: "`constructor.prototype` keys that would pollute Object.prototype if merged naively",
    data: withFirst(badWorkspace("ctor"), '"constructor":{"prototype":{"polluted":"yes"}}'),
    expect: { kind: "refused", reason: BAD_QUOTA },
  }),
  entry({
    name: "array-for-object",
    what: "an array where the workspace object belongs",
    data: `{"workspace":[${JSON.stringify(workspace("arr"))}]}`,
    expect: { kind: "refused", reason: INVALID("workspace") },
  }),
  entry({
    name: "object-for-array",
    what: "a snapshot whose workspaces are an object keyed by index",
    bytes: (c) => rawEvent(c, "snapshot", `{"workspaces":{"0":${JSON.stringify(workspace("obj"))}}}`),
    expect: { kind: "refused", reason: /^event "snapshot" is invalid: workspaces: / },
  }),
  entry({
    name: "boolean-for-object",
    what: "`true` where the workspace object belongs",
    data: '{"workspace":true}',
    expect: { kind: "refused", reason: INVALID("workspace") },
  }),
  entry({
    name: "null-document",
    what: "data `null`",
    data: "null",
    expect: { kind: "refused", reason: INVALID("\\(root\\)") },
  }),
  entry({
    name: "array-document",
    what: "data `[]`",
    data: "[]",
    expect: { kind: "refused", reason: INVALID("\\(root\\)") },
  }),
  entry({
    name: "empty-object",
    what: "data `{}`",
    data: "{}",
    expect: { kind: "refused", reason: INVALID("workspace") },
  }),
  entry({
    name: "depth-at-limit",
    what: `an extra field nested to exactly ${MAX_JSON_DEPTH} levels in all`,
    data: withFirst(badWorkspace("deep-ok"), `"x":${nested(MAX_JSON_DEPTH - 2)}`),
    expect: { kind: "refused", reason: BAD_QUOTA },
  }),
  entry({
    name: "depth-over-limit",
    what: `an extra field nested to ${MAX_JSON_DEPTH + 1} levels in all`,
    data: withFirst(workspace("deep-over"), `"x":${nested(MAX_JSON_DEPTH - 1)}`),
    expect: { kind: "refused", reason: TOO_DEEP },
  }),
  entry({
    name: "brackets-in-string",
    what: "10,000 opening brackets inside a string, which are no nesting",
    data: withFirst(badWorkspace("brackets"), `"note":"${"[{".repeat(5000)}"`),
    expect: { kind: "refused", reason: BAD_QUOTA },
  }),
  entry({
    name: "escaped-backslash-then-deep",
    what: "a string ending in an escaped backslash, then nesting over the limit",
    data: withFirst(workspace("bs-deep"), `"note":"\\\\","x":${nested(MAX_JSON_DEPTH)}`),
    expect: { kind: "refused", reason: TOO_DEEP },
  }),
  entry({
    name: "escaped-quote-hides-nothing",
    what: 'an escaped quote (\\") inside a string, then nesting over the limit',
    data: withFirst(workspace("q-deep"), `"note":"a\\"[[[","x":${nested(MAX_JSON_DEPTH)}`),
    expect: { kind: "refused", reason: TOO_DEEP },
  }),
  entry({
    name: "unicode-escape-uppercase",
    what: "an id whose \\u0041 escape decodes to an uppercase letter",
    data: upsertText(JSON.stringify(workspace("xbc")).replace('"xbc"', '"\\u0041bc"')),
    expect: { kind: "refused", reason: INVALID("workspace\\.id") },
  }),
  entry({
    name: "lone-surrogate",
    what: "an id that is a lone UTF-16 surrogate (\\ud800)",
    data: upsertText(JSON.stringify(workspace("xbc")).replace('"xbc"', '"\\ud800"')),
    expect: { kind: "refused", reason: INVALID("workspace\\.id") },
  }),
  entry({
    name: "key-flood",
    what: "50,000 unknown keys in the workspace",
    data: withFirst(badWorkspace("keys"), Array.from({ length: 50_000 }, (_, i) => `"k${i}":0`).join(",")),
    expect: { kind: "refused", reason: BAD_QUOTA },
  }),
  entry({
    name: "escape-flood",
    what: "a string of 100,000 \\u0000 escapes",
    data: withFirst(badWorkspace("escapes"), `"note":"${"\\u0000".repeat(100_000)}"`),
    expect: { kind: "refused", reason: BAD_QUOTA },
  }),
  entry({
    name: "snapshot-duplicate-keys",
    what: "a snapshot with its workspaces list twice, the second empty",
    bytes: (c) => {
      const [text] = agentSnapshot(c, []) as [string];
      return [text.replace('data: {"workspaces":', 'data: {"workspaces":[],"workspaces":')];
    },
    expect: { kind: "refused", reason: /^event "snapshot" is refused: .*"workspaces" twice/ },
  }),
];
