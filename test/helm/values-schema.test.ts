// values.yaml and values.schema.json agree and stay strict: every value is documented with a comment,
// every value is known to the schema (and every schema property has a default in values.yaml), and every
// object in the schema closes itself with additionalProperties (false, or a typed map).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { isMap, isScalar, isSeq, type Pair, parseDocument, type YAMLMap } from "yaml";
import { CHART_DIR } from "./helm.ts";

interface SchemaNode {
  type?: string | string[];
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
  items?: SchemaNode;
  $ref?: string;
  oneOf?: SchemaNode[];
  definitions?: Record<string, SchemaNode>;
}

const schema = JSON.parse(readFileSync(join(CHART_DIR, "values.schema.json"), "utf8")) as SchemaNode;
const valuesDoc = parseDocument(readFileSync(join(CHART_DIR, "values.yaml"), "utf8"));

function deref(node: SchemaNode): SchemaNode {
  if (!node.$ref) return node;
  const name = node.$ref.replace("#/definitions/", "");
  const target = schema.definitions?.[name];
  assert.ok(target, `dangling $ref ${node.$ref}`);
  return deref(target);
}

/** Leaf values of values.yaml as dotted paths, with whether a comment documents them. */
function leaves(map: YAMLMap, prefix = ""): Array<{ path: string; documented: boolean }> {
  return map.items.flatMap((pair: Pair, i) => {
    const key = isScalar(pair.key) ? String(pair.key.value) : "?";
    const path = prefix ? `${prefix}.${key}` : key;
    // The parser attaches a comment above a map's first key to the map itself.
    const own =
      (pair.key as { commentBefore?: string } | null)?.commentBefore ?? (i === 0 ? map.commentBefore : "");
    const comment = Boolean(own);
    const value = pair.value;
    if (isMap(value) && value.items.length > 0 && !comment) return leaves(value, path);
    return [{ path, documented: comment }];
  });
}

function schemaAt(path: string): SchemaNode | undefined {
  let node: SchemaNode | undefined = schema;
  for (const key of path.split(".")) {
    node = node ? deref(node).properties?.[key] : undefined;
  }
  return node;
}

test("every value in values.yaml has a comment", () => {
  const root = valuesDoc.contents;
  assert.ok(isMap(root));
  const undocumented = leaves(root)
    .filter((l) => !l.documented)
    .map((l) => l.path);
  assert.deepEqual(undocumented, []);
});

test("every value in values.yaml is a property of the schema", () => {
  const root = valuesDoc.contents;
  assert.ok(isMap(root));
  const unknown = leaves(root)
    .map((l) => l.path)
    .filter((p) => schemaAt(p) === undefined);
  assert.deepEqual(unknown, []);
});

test("every schema property has its default in values.yaml", () => {
  const missing: string[] = [];
  const walk = (node: SchemaNode, path: string[]) => {
    const n = deref(node);
    for (const [key, child] of Object.entries(n.properties ?? {})) {
      // "global" is set by Helm for subcharts; resources and affinity are Kubernetes types whose
      // members are all optional, so values.yaml shows only the ones it sets.
      if (path.length === 0 && ["global", "resources", "affinity"].includes(key)) continue;
      const p = [...path, key];
      if (!valuesDoc.hasIn(p)) missing.push(p.join("."));
      else if (isMap(valuesDoc.getIn(p))) walk(child, p);
    }
  };
  walk(schema, []);
  assert.deepEqual(missing, []);
});

test("every object in the schema sets additionalProperties", () => {
  const open: string[] = [];
  const walk = (node: SchemaNode, where: string, seen: Set<SchemaNode>) => {
    if (seen.has(node)) return;
    seen.add(node);
    const n = deref(node);
    const isObject = n.type === "object" || n.properties !== undefined;
    // Affinity's three members and the subchart "global" are passed through unchanged on purpose.
    const passThrough = /^(affinity\.\w+|global)$/.test(where);
    if (isObject && n.additionalProperties === undefined && !passThrough) open.push(where || "(root)");
    for (const [key, child] of Object.entries(n.properties ?? {}))
      walk(child, where ? `${where}.${key}` : key, seen);
    if (n.items) walk(n.items, `${where}[]`, seen);
    if (typeof n.additionalProperties === "object") walk(n.additionalProperties, `${where}.*`, seen);
    for (const alt of n.oneOf ?? []) walk(alt, where, seen);
  };
  walk(schema, "", new Set());
  assert.deepEqual(open, []);
});

test("values.yaml lists arrays and maps the schema expects as such", () => {
  const root = valuesDoc.contents;
  assert.ok(isMap(root));
  for (const { path } of leaves(root)) {
    const node = schemaAt(path);
    const value = valuesDoc.getIn(path.split("."));
    if (!node || !value) continue;
    const n = deref(node);
    if (n.type === "array") assert.ok(isSeq(value), `${path} should be a list`);
    if (n.type === "object") assert.ok(isMap(value), `${path} should be a map`);
  }
});
