import assert from "node:assert/strict";
import { test } from "node:test";
import { compareStrings } from "./order.ts";

test("compareStrings orders by code unit, not by locale", () => {
  assert.deepEqual(["b", "a", "B", "a-1", "a1", ""].sort(compareStrings), ["", "B", "a", "a-1", "a1", "b"]);
  assert.equal(compareStrings("x", "x"), 0);
  assert.ok(compareStrings("tm-10", "tm-9") < 0, "no numeric collation");
});
