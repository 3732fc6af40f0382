// The hostile-input catalogue itself (test/hostile/catalogue/): at least 80 distinct inputs across
// framing, event ids, JSON, workspaces, deployments and HTTP behaviour, unique names, every stream
// input's bytes buildable and different from every other's, every expectation naming what to look
// for. The inputs are sent to the real agents by catalogue-*.test.ts.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { DOC, section } from "./catalogue/doc.ts";
import { catalogue } from "./catalogue/index.ts";
import type { InputClass, StreamContext, StreamInput } from "./catalogue/types.ts";
import type { Step } from "./server.ts";

const CLASSES: InputClass[] = ["framing", "ids", "json", "workspace", "deployment", "http"];

function ctx(stream: StreamInput["stream"]): StreamContext {
  let n = 1000n;
  return {
    next: () => (++n).toString(),
    last: "1000",
    listed: [{ id: "good" }],
    workspaceId: stream === "workspace" ? "w" : undefined,
  };
}

/** A digest of the bytes of some steps; repeats hashed as (bytes, times) without being expanded. */
function digest(steps: Step[]): string {
  const h = createHash("sha256");
  for (const s of steps) {
    if (typeof s === "string" || s instanceof Uint8Array) h.update(s);
    else if ("repeat" in s) h.update(s.repeat).update(`*${s.times}`);
    else if ("stallMs" in s) h.update(`stall ${s.stallMs}`);
    else h.update(`drip ${s.everyMs} `).update(s.drip);
  }
  return h.digest("hex");
}

test("at least 80 distinct hostile inputs, every class represented, names unique within a class", () => {
  assert.ok(catalogue.length >= 80, `${catalogue.length} inputs`);
  for (const c of CLASSES)
    assert.ok(catalogue.filter((i) => i.class === c).length >= 8, `class ${c} has at least 8 inputs`);
  const names = catalogue.map((i) => `${i.class}/${i.name}`);
  assert.deepEqual(
    names.filter((n, i) => names.indexOf(n) !== i),
    [],
    "duplicate names",
  );
  for (const i of catalogue) assert.ok(i.what.length > 5, `${i.name} says what is hostile about it`);
});

test("every stream input builds bytes that no other input sends", () => {
  const seen = new Map<string, string>();
  for (const input of catalogue) {
    if (input.class === "http") continue;
    const d = digest(input.bytes(ctx(input.stream)));
    assert.ok(!seen.has(d), `${input.name} sends the same bytes as ${seen.get(d)}`);
    seen.set(d, input.name);
  }
});

test("every expectation names what to look for", () => {
  for (const input of catalogue) {
    if (input.class === "http") {
      const e = input.expect;
      assert.ok(e.min >= 1 && e.max >= e.min && e.windowMs >= 1000, `${input.name}: a window and bounds`);
      assert.ok(e.log || e.max === 1, `${input.name}: a log line, unless nothing goes wrong`);
      assert.ok(input.answers().length > 0, `${input.name}: answers`);
      continue;
    }
    const e = input.expect;
    if (e.kind === "ignored" || e.kind === "accepted") assert.ok(e.why.length > 10, `${input.name}: why`);
    else assert.ok(!e.reason.test(""), `${input.name}: a reason that an empty string does not match`);
  }
});

test("docs/reliability.md lists the catalogue as it is (node test/hostile/catalogue/doc.ts rewrites it)", () => {
  assert.ok(readFileSync(DOC, "utf8").includes(section()), "the list in docs/reliability.md is out of date");
});
