import assert from "node:assert/strict";
import { test } from "node:test";
import { compareQuantities, isQuantity, parseQuantity, quantitiesEqual } from "./quantity.ts";

test("parses decimal, binary and exponent suffixes", () => {
  assert.equal(parseQuantity("500m"), 0.5);
  assert.equal(parseQuantity("2"), 2);
  assert.equal(parseQuantity("1Gi"), 1073741824);
  assert.equal(parseQuantity("512Mi"), 536870912);
  assert.equal(parseQuantity("1.5Gi"), 1.5 * 2 ** 30);
  assert.equal(parseQuantity("1k"), 1000);
  assert.equal(parseQuantity("1e3"), 1000);
  assert.ok(quantitiesEqual("100n", "0.0000001"));
  assert.equal(parseQuantity(3), 3);
});

test("rejects what is not a quantity, naming it", () => {
  assert.equal(isQuantity("1GB"), false);
  assert.equal(isQuantity(""), false);
  assert.equal(isQuantity("abc"), false);
  assert.throws(() => parseQuantity("1GB"), /"1GB" is not a Kubernetes quantity/);
});

test("compares the way the API server normalizes", () => {
  assert.ok(quantitiesEqual("1000m", "1"));
  assert.ok(quantitiesEqual("1024Mi", "1Gi"));
  assert.ok(quantitiesEqual("0.5", "500m"));
  assert.ok(!quantitiesEqual("1", "1001m"));
  assert.ok(!quantitiesEqual("1G", "1Gi"));
  assert.equal(compareQuantities("64", "16"), 1);
  assert.equal(compareQuantities("8Gi", "16Gi"), -1);
  assert.equal(compareQuantities("2000m", "2"), 0);
});
