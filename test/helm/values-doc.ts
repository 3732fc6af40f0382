// The chart's values reference, docs/chart-values.md, generated from helm/meridian-agent/values.yaml
// (each value's `# --` comment and its default) and values.schema.json (its type), as cert-manager
// generates its chart README. `npm run docs:values` rewrites the file; values-doc.test.ts fails in CI
// while the committed file and values.yaml disagree. Run as a script: `node test/helm/values-doc.ts
// [--check]` (--check writes nothing and exits 1 when the file is stale).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Document, isMap, isScalar, type Node, parseDocument, stringify, type YAMLMap } from "yaml";
import { repoRoot } from "../cluster/paths.ts";

export const CHART = join(repoRoot, "helm", "meridian-agent");
export const VALUES_DOC = join(repoRoot, "docs", "chart-values.md");

export interface SchemaNode {
  type?: string | string[];
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
  items?: SchemaNode;
  $ref?: string;
  oneOf?: SchemaNode[];
  enum?: unknown[];
  definitions?: Record<string, SchemaNode>;
}

/** A node with its `$ref`s followed (to `#/definitions/<name>` of `root`). */
export function deref(root: SchemaNode, node: SchemaNode): SchemaNode {
  if (!node.$ref) return node;
  const target = root.definitions?.[node.$ref.replace("#/definitions/", "")];
  if (!target) throw new Error(`values.schema.json: dangling $ref ${node.$ref}; define it under definitions`);
  return deref(root, target);
}

/** The schema of a dotted values path, undefined when the schema does not know it. */
export function schemaAt(root: SchemaNode, path: string): SchemaNode | undefined {
  let node: SchemaNode | undefined = root;
  for (const key of path.split(".")) node = node ? deref(root, node).properties?.[key] : undefined;
  return node;
}

export interface DocumentedValue {
  /** Dotted path, e.g. `policy.quotaCeilings.cpu`. */
  path: string;
  /** The comment above the key, `#` and the `-- ` marker removed; empty when there is none. */
  description: string;
  /** A map whose members are documented one by one (its own comment introduces them). */
  section: boolean;
  default: unknown;
}

/** Comment lines without the one space after `#`. */
const lines = (comment: string) => comment.split("\n").map((l) => l.replace(/^ /, ""));

/** Whether a comment documents any key below this map (at any depth). */
function hasDocumentedMember(map: YAMLMap): boolean {
  return map.items.some(
    (p, j) =>
      Boolean((p.key as Node | null)?.commentBefore || (j === 0 && map.commentBefore)) ||
      (isMap(p.value) && hasDocumentedMember(p.value)),
  );
}

/**
 * Every key of values.yaml with the comment above it, in file order. A map is a section (and its
 * members are listed too) when a key below it carries a comment of its own; otherwise it is one value.
 * The `yaml` parser hangs a comment above a map's first key on the map: that one counts for the key.
 */
export function documentedValues(doc: Document): DocumentedValue[] {
  const walk = (map: YAMLMap, prefix: string): DocumentedValue[] =>
    map.items.flatMap((pair, i) => {
      const key = isScalar(pair.key) ? String(pair.key.value) : "?";
      const path = prefix ? `${prefix}.${key}` : key;
      const raw = (pair.key as Node | null)?.commentBefore ?? (i === 0 ? map.commentBefore : undefined) ?? "";
      const own = lines(raw);
      // A file or section comment may precede the value's own `-- ` comment: keep only the latter.
      const marker = own.findIndex((l) => l.startsWith("-- "));
      const text = (marker >= 0 ? own.slice(marker) : own).join("\n").replace(/^-- /, "").trim();
      const value = pair.value;
      const members = isMap(value) && hasDocumentedMember(value);
      const entry = {
        path,
        description: text,
        section: Boolean(members),
        default: (value as Node | null)?.toJSON?.() ?? null,
      };
      return members && isMap(value) ? [entry, ...walk(value, path)] : [entry];
    });
  const root = doc.contents;
  if (!isMap(root)) throw new Error("values.yaml is not a map of values");
  return walk(root, "");
}

/** The schema's type of a value in words: `string`, `integer`, `object`, `string or null`, ... */
function typeOf(root: SchemaNode, node: SchemaNode | undefined): string {
  if (!node) return "unknown";
  const n = deref(root, node);
  if (n.type) return Array.isArray(n.type) ? n.type.join(" or ") : n.type;
  if (n.oneOf) return [...new Set(n.oneOf.map((alt) => typeOf(root, alt)))].join(" or ");
  if (n.enum) return `one of ${n.enum.map((e) => JSON.stringify(e)).join(", ")}`;
  return n.properties ? "object" : "any";
}

/** A description as markdown: indented comment lines (examples) become YAML code blocks. */
function describe(text: string): string {
  const out: string[] = [];
  let code: string[] = [];
  const flush = () => {
    if (code.length > 0) out.push("", "```yaml", ...code.map((l) => l.replace(/^ {2}/, "")), "```", "");
    code = [];
  };
  for (const line of text.split("\n")) {
    if (/^ {2}\S/.test(line) || (code.length > 0 && /^ {3,}/.test(line))) code.push(line);
    else {
      flush();
      out.push(line.replace(/</g, "\\<"));
    }
  }
  flush();
  return out
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}

/** `Type: ... · Default: ...`, the default in a YAML block when it does not fit on the line. */
function typeAndDefault(type: string, value: unknown): string {
  const inline = JSON.stringify(value);
  if (value === null || typeof value !== "object" || inline.length <= 2)
    return `Type: \`${type}\` · Default: \`${inline}\``;
  return `Type: \`${type}\` · Default:\n\n\`\`\`yaml\n${stringify(value).trimEnd()}\n\`\`\``;
}

/** docs/chart-values.md from the text of values.yaml and the parsed values.schema.json. */
export function renderValuesDoc(valuesYaml: string, schema: SchemaNode): string {
  const doc = parseDocument(valuesYaml);
  const values = documentedValues(doc);
  const first = (doc.contents as YAMLMap).items[0]?.key as Node | undefined;
  const header = lines(first?.commentBefore ?? "");
  const intro = header
    .slice(
      0,
      Math.max(
        0,
        header.findIndex((l) => l.startsWith("-- ")),
      ),
    )
    .join("\n")
    .trim();
  const parts = [
    "# Chart values (meridian-agent)",
    "",
    "<!-- Generated from helm/meridian-agent/values.yaml and values.schema.json by `npm run docs:values`;",
    "     do not edit: change the comments in values.yaml. test/helm/values-doc.test.ts fails while they differ. -->",
    "",
    intro.replace(/\n/g, " "),
    "",
    "Set values with `--set key=value` or `-f my-values.yaml`; a value set to `null` removes a default",
    "(e.g. a `runAsUser` on OpenShift). How to install: [install.md](install.md).",
  ];
  for (const v of values) {
    if (v.section && !v.description) continue;
    parts.push("", `## \`${v.path}\``, "");
    if (v.description) parts.push(describe(v.description), "");
    const type = typeOf(schema, schemaAt(schema, v.path));
    parts.push(v.section ? `Type: \`${type}\`; its members follow.` : typeAndDefault(type, v.default));
  }
  return `${parts.join("\n")}\n`;
}

/** The reference as values.yaml and values.schema.json say it should be now. */
export function currentValuesDoc(): string {
  const schema = JSON.parse(readFileSync(join(CHART, "values.schema.json"), "utf8")) as SchemaNode;
  return renderValuesDoc(readFileSync(join(CHART, "values.yaml"), "utf8"), schema);
}

if (import.meta.main) {
  const want = currentValuesDoc();
  const have = (() => {
    try {
      return readFileSync(VALUES_DOC, "utf8");
    } catch {
      return "";
    }
  })();
  if (process.argv.includes("--check")) {
    if (have !== want) {
      process.stderr.write("docs/chart-values.md is stale: run npm run docs:values and commit the result\n");
      process.exit(1);
    }
  } else {
    writeFileSync(VALUES_DOC, want);
    process.stdout.write(`wrote docs/chart-values.md (${want.split("\n## ").length - 1} values)\n`);
  }
}
