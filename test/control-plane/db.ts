// The control plane's embedded database: one SQLite file (node:sqlite, WAL) holding everything, so
// that stopping and starting the server on the same file loses nothing.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync } from "node:sqlite";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS agents (
  id TEXT PRIMARY KEY,
  created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS credentials (
  token_hash TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('agent', 'workspace')),
  subject TEXT NOT NULL,
  expires_at INTEGER,
  created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS credentials_subject ON credentials (kind, subject);
CREATE TABLE IF NOT EXISTS workspaces (
  id TEXT PRIMARY KEY,
  agent_id TEXT NOT NULL,
  generation INTEGER NOT NULL,
  spec TEXT NOT NULL,
  canonical TEXT NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS workspaces_agent ON workspaces (agent_id, deleted);
CREATE TABLE IF NOT EXISTS deployments (
  workspace_id TEXT NOT NULL,
  name TEXT NOT NULL,
  generation INTEGER NOT NULL,
  spec TEXT NOT NULL,
  canonical TEXT NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (workspace_id, name)
);
CREATE TABLE IF NOT EXISTS changes (
  seq INTEGER PRIMARY KEY,
  stream TEXT NOT NULL CHECK (stream IN ('agent', 'workspace')),
  target TEXT NOT NULL,
  type TEXT NOT NULL,
  data TEXT NOT NULL,
  at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS changes_target ON changes (stream, target, seq);
CREATE TABLE IF NOT EXISTS statuses (
  kind TEXT NOT NULL CHECK (kind IN ('agent', 'workspace')),
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  received_at TEXT NOT NULL,
  PRIMARY KEY (kind, subject)
);
INSERT OR IGNORE INTO meta (key, value) VALUES ('head', 0), ('floor', 0);
`;

/** Opens (creating if needed) the database at `path` and brings its schema up to date. */
export function openDatabase(path: string): DatabaseSync {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path);
  } catch (err) {
    throw new Error(`cannot open the control-plane database ${path}: check the --db path is writable`, {
      cause: err,
    });
  }
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;");
  db.exec(SCHEMA);
  // The epoch of this database's generations (docs/protocol.md "Epochs"): the time it was created, so a
  // control plane that lost its data and starts on a new database continues with a higher one. A new
  // database's event ids start there too, above every id an earlier one handed out (unless that one
  // sent more than an event a millisecond over its whole life): a client resuming with an id of the
  // lost data is below the floor and gets a snapshot instead of the new epoch's later changes only.
  const epoch = Date.now();
  if (db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('epoch', ?)").run(epoch).changes === 1)
    db.prepare(
      "UPDATE meta SET value = ? WHERE key IN ('head', 'floor') AND (SELECT value FROM meta WHERE key = 'head') = 0",
    ).run(epoch);
  return db;
}

/** Runs `fn` inside one write transaction; rolls back and rethrows on error. */
export function inTransaction<T>(db: DatabaseSync, fn: () => T): T {
  db.exec("BEGIN IMMEDIATE");
  try {
    const result = fn();
    db.exec("COMMIT");
    return result;
  } catch (err) {
    db.exec("ROLLBACK");
    throw err;
  }
}

/** JSON with object keys sorted at every depth, so equal specs give equal strings. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}
