// Every status body the reference control plane accepted during a run, not only the latest it keeps:
// triggers on its SQLite file (the `statuses` table is replaced on each report) copy each body into a
// history table as it is written, so a test can grep all of them afterwards. Nothing in the control
// plane changes; the triggers live in the test's copy of the database only.
import { DatabaseSync } from "node:sqlite";

export interface StatusBody {
  kind: string;
  subject: string;
  body: string;
}

export interface StatusHistory {
  /** Every body stored since `record` was called, oldest first. */
  bodies(): StatusBody[];
  close(): void;
}

const SETUP = `
CREATE TABLE IF NOT EXISTS e2e_status_history (
  n INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS e2e_status_inserted AFTER INSERT ON statuses BEGIN
  INSERT INTO e2e_status_history (kind, subject, body) VALUES (NEW.kind, NEW.subject, NEW.body);
END;
CREATE TRIGGER IF NOT EXISTS e2e_status_updated AFTER UPDATE ON statuses BEGIN
  INSERT INTO e2e_status_history (kind, subject, body) VALUES (NEW.kind, NEW.subject, NEW.body);
END;
`;

/** Starts recording on the control plane's database at `dbPath` (it must have created its schema). */
export function recordStatusHistory(dbPath: string): StatusHistory {
  const db = new DatabaseSync(dbPath);
  db.exec("PRAGMA busy_timeout = 5000;");
  db.exec(SETUP);
  return {
    bodies: () =>
      db
        .prepare("SELECT kind, subject, body FROM e2e_status_history ORDER BY n")
        .all()
        .map((r) => ({ kind: String(r.kind), subject: String(r.subject), body: String(r.body) })),
    close: () => {
      if (db.isOpen) db.close();
    },
  };
}
