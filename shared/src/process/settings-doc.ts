// The settings tables of docs/configuration.md, rendered from the processes' settings tables.
// Each table sits between `<!-- settings:<id> -->` and `<!-- /settings:<id> -->`; `npm run
// docs:config` (shared/build/docs-config.ts) rewrites them and each process's config test fails
// when the file and its table disagree.
import { type SettingsTable, shownDefault } from "./settings.ts";

/** One markdown table: flag, environment, default, meaning. */
export function renderSettingsTable(table: SettingsTable): string {
  const cell = (s: string) => s.replaceAll("|", "\\|");
  const rows = Object.values(table).map((s) => {
    const env = s.env ? `\`${s.env}\`${s.envAlias ? `, else \`${s.envAlias}\`` : ""}` : "—";
    const def = shownDefault(s);
    return `| \`--${s.flag}\` | ${env} | ${def ? `\`${cell(def)}\`` : "—"} | ${cell(s.description)} Expected: ${cell(s.expected)}. |`;
  });
  return ["| flag | environment | default | meaning |", "|---|---|---|---|", ...rows].join("\n");
}

const markers = (id: string) => [`<!-- settings:${id} -->`, `<!-- /settings:${id} -->`] as const;

/** The text between a section's markers, trimmed; undefined when the markers are missing. */
export function readSettingsSection(doc: string, id: string): string | undefined {
  const [open, close] = markers(id);
  const start = doc.indexOf(open);
  const end = doc.indexOf(close, start);
  if (start < 0 || end < 0) return undefined;
  return doc.slice(start + open.length, end).trim();
}

/** `doc` with the section's content replaced; throws when the markers are missing. */
export function writeSettingsSection(doc: string, id: string, content: string): string {
  const [open, close] = markers(id);
  const start = doc.indexOf(open);
  const end = doc.indexOf(close, start);
  if (start < 0 || end < 0)
    throw new Error(`no "${open}" ... "${close}" in the document; add the markers where the table belongs`);
  return `${doc.slice(0, start + open.length)}\n${content}\n${doc.slice(end)}`;
}
