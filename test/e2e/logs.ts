// Checks on what the agents print: every line is one JSON object in the shape of
// @meridian/shared/log (level, time, component, msg), and no credential appears anywhere in it.

export interface LogLine {
  level: string;
  time: string;
  component: string;
  msg: string;
  [field: string]: unknown;
}

export interface Credential {
  /** What it is, for the error message (never the value). */
  name: string;
  value: string;
}

/** Parses every non-empty line; throws naming the first line that is not a log object. */
export function parseJsonLines(text: string, source: string): LogLine[] {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  return lines.map((line, i) => {
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch {
      throw new Error(`${source}: line ${i + 1} is not JSON: ${line.slice(0, 200)}`);
    }
    const o = obj as Partial<LogLine> | null;
    if (!o || typeof o !== "object" || Array.isArray(o)) {
      throw new Error(`${source}: line ${i + 1} is not a JSON object: ${line.slice(0, 200)}`);
    }
    for (const key of ["level", "time", "component", "msg"] as const) {
      if (typeof o[key] !== "string") {
        throw new Error(`${source}: line ${i + 1} has no string "${key}" field: ${line.slice(0, 200)}`);
      }
    }
    return o as LogLine;
  });
}

/** Throws if any credential's value occurs in `text`, naming the credential and the line number. */
export function assertNoCredential(text: string, credentials: Credential[], source: string): void {
  for (const c of credentials) {
    if (c.value.length < 8) throw new Error(`${c.name} is too short to search for meaningfully`);
    const lineNo = text.split("\n").findIndex((l) => l.includes(c.value));
    if (lineNo >= 0) throw new Error(`${source}: line ${lineNo + 1} contains the ${c.name}`);
  }
}
