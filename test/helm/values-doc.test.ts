// docs/chart-values.md is generated from values.yaml (test/helm/values-doc.ts): the committed file must
// be exactly what the generator makes of the committed values.yaml and schema (CI fails otherwise, as
// cert-manager's does), and the generator must carry every documented value, its type and default.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { parseDocument } from "yaml";
import { repoRoot } from "../cluster/paths.ts";
import {
  CHART,
  currentValuesDoc,
  documentedValues,
  renderValuesDoc,
  type SchemaNode,
  VALUES_DOC,
} from "./values-doc.ts";

const valuesYaml = readFileSync(join(CHART, "values.yaml"), "utf8");
const schema = JSON.parse(readFileSync(join(CHART, "values.schema.json"), "utf8")) as SchemaNode;

test("docs/chart-values.md is what npm run docs:values makes of values.yaml", () => {
  const committed = readFileSync(VALUES_DOC, "utf8");
  assert.ok(committed === currentValuesDoc(), "docs/chart-values.md is stale: run npm run docs:values");
});

test("the script's --check passes on the committed file, and a comment change changes the doc", async () => {
  const script = join(repoRoot, "test/helm/values-doc.ts");
  const run = promisify(execFile);
  await run(process.execPath, [script, "--check"]);
  const edited = valuesYaml.replace("# -- Log level of the agent", "# -- The log level of the agent");
  assert.notEqual(edited, valuesYaml);
  assert.notEqual(renderValuesDoc(edited, schema), currentValuesDoc(), "a comment change changes the doc");
});

test("every documented value has a heading with its description, type and default", () => {
  const doc = currentValuesDoc();
  for (const v of documentedValues(parseDocument(valuesYaml))) {
    if (v.section && !v.description) continue;
    const at = doc.indexOf(`\n## \`${v.path}\`\n`);
    assert.ok(at >= 0, `no heading for ${v.path}`);
    const next = doc.indexOf("\n## ", at + 1);
    const body = doc.slice(at, next < 0 ? undefined : next);
    assert.match(body, /Type: `[^`]+`/, v.path);
    if (!v.section) assert.match(body, /Default:/, v.path);
  }
  assert.match(doc, /## `workspaceAgent\.podSecurityContext`\n\nsecurityContext of the workspace agent pods/);
  assert.match(doc, /## `serviceAccount\.annotations`\n[\s\S]*?Type: `object` · Default: `\{\}`/);
});

test("the generator: markers, sections, examples, types and defaults", () => {
  const yaml = [
    "# File header, not a value.",
    "",
    "# -- A name.",
    "name: x",
    "# A section's introduction.",
    "group:",
    "  # -- A limit; <n> or null.",
    "  limit: null",
    "  # -- A map. Example:",
    "  #   a: 1",
    "  #   b: 2",
    "  labels:",
    "    app: y",
  ].join("\n");
  const tiny: SchemaNode = {
    properties: {
      name: { type: "string" },
      group: {
        type: "object",
        properties: { limit: { type: ["integer", "null"] }, labels: { $ref: "#/definitions/map" } },
      },
    },
    definitions: { map: { type: "object" } },
  };
  const doc = renderValuesDoc(yaml, tiny);
  assert.match(doc, /File header, not a value\./);
  assert.match(doc, /## `name`\n\nA name\.\n\nType: `string` · Default: `"x"`/);
  assert.match(doc, /## `group`\n\nA section's introduction\.\n\nType: `object`; its members follow\./);
  assert.match(
    doc,
    /## `group\.limit`\n\nA limit; \\<n> or null\.\n\nType: `integer or null` · Default: `null`/,
  );
  assert.match(
    doc,
    /A map\. Example:\n\n```yaml\na: 1\nb: 2\n```\n\nType: `object` · Default:\n\n```yaml\napp: y\n```/,
  );
  assert.doesNotMatch(doc, /^-- /m, "the `-- ` marker is removed");
});
