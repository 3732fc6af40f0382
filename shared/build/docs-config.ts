// `npm run docs:config`: rewrites the settings tables of docs/configuration.md from the settings
// tables of the agent and the workspace agent (the same tables their --help comes from). Each
// process's config test fails while the file and its table disagree.
import { readFileSync, writeFileSync } from "node:fs";
import { AGENT_SETTINGS } from "../../agent/src/config.ts";
import { WORKSPACE_AGENT_SETTINGS } from "../../workspace-agent/src/config.ts";
import { renderSettingsTable, writeSettingsSection } from "../src/process/settings-doc.ts";

const doc = new URL("../../docs/configuration.md", import.meta.url);
const tables = { agent: AGENT_SETTINGS, "workspace-agent": WORKSPACE_AGENT_SETTINGS };

let text = readFileSync(doc, "utf8");
for (const [id, table] of Object.entries(tables))
  text = writeSettingsSection(text, id, renderSettingsTable(table));
writeFileSync(doc, text);
process.stdout.write(
  `rewrote the settings tables (${Object.keys(tables).join(", ")}) of docs/configuration.md\n`,
);
