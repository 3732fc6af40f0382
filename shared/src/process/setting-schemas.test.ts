import assert from "node:assert/strict";
import { test } from "node:test";
import { z } from "zod";
import { jsonText } from "./setting-schemas.ts";

const pair = z.strictObject({ low: z.int(), high: z.int() });
const setting = jsonText(pair, { low: 0, high: 1 }, (p) => (p.low > p.high ? ["low is above high"] : []));

test("jsonText: unset or blank gives the fallback, valid JSON the parsed value", () => {
  assert.deepEqual(setting.parse(undefined), { low: 0, high: 1 });
  assert.deepEqual(setting.parse("  "), { low: 0, high: 1 });
  assert.deepEqual(setting.parse('{"low": 2, "high": 5}'), { low: 2, high: 5 });
});

test("jsonText: text that is no JSON, a field the schema refuses, and a contradiction are each one issue", () => {
  const issue = (raw: string) => {
    const r = setting.safeParse(raw);
    assert.equal(r.success, false);
    assert.equal(r.error?.issues.length, 1);
    return r.error?.issues[0]?.message ?? "";
  };
  assert.match(issue("{low"), /^is not JSON \(/);
  assert.match(issue('{"low": 1, "high": 2, "extra": 3}'), /^\(root\): /);
  assert.match(issue('{"low": "x", "high": 2}'), /^low: /);
  assert.equal(issue('{"low": 9, "high": 2}'), "low is above high");
});
