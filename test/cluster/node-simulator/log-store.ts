// Container logs, kubelet-style: one file per container instance
// (`<podDir>/logs/<container>/<restartCount>.log`) holding stdout and stderr as
// plain lines, plus `<restartCount>.log.ts` with the RFC 3339 receive time of
// each line (same line number), so `?timestamps=true` and `sinceTime` can be
// answered without disturbing the plain file. Writes are synchronous, which lets
// a follower read the backlog and subscribe to new lines without a gap.
import { EventEmitter } from "node:events";
import { closeSync, existsSync, openSync, readFileSync, writeSync } from "node:fs";
import type { Readable } from "node:stream";

export interface LogLine {
  ts: string;
  line: string;
}

/** Live writer of one container instance's log; emits "line" (LogLine) and "end". */
export class ContainerLog extends EventEmitter {
  readonly path: string;
  #logFd: number | undefined;
  #tsFd: number | undefined;

  constructor(path: string) {
    super();
    this.setMaxListeners(0);
    this.path = path;
    this.#logFd = openSync(path, "a");
    this.#tsFd = openSync(`${path}.ts`, "a");
  }

  get closed(): boolean {
    return this.#logFd === undefined;
  }

  /** Copies a stream (stdout or stderr) into the log line by line. */
  attach(stream: Readable): void {
    let partial = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      const parts = (partial + chunk).split("\n");
      partial = parts.pop() ?? "";
      for (const p of parts) this.writeLine(p);
    });
    stream.on("close", () => {
      if (partial) this.writeLine(partial);
      partial = "";
    });
  }

  writeLine(line: string): void {
    if (this.#logFd === undefined || this.#tsFd === undefined) return;
    const ts = new Date().toISOString();
    writeSync(this.#tsFd, `${ts}\n`);
    writeSync(this.#logFd, `${line}\n`);
    this.emit("line", { ts, line } satisfies LogLine);
  }

  close(): void {
    if (this.#logFd === undefined) return;
    closeSync(this.#logFd);
    if (this.#tsFd !== undefined) closeSync(this.#tsFd);
    this.#logFd = undefined;
    this.#tsFd = undefined;
    this.emit("end");
  }
}

export interface ReadLogOptions {
  tailLines?: number;
  /** Lines received at or after this time (ms since epoch). */
  sinceMs?: number;
}

/** Lines of a finished or running log file, oldest first. */
export function readLogLines(path: string, opts: ReadLogOptions = {}): LogLine[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, "utf8");
  const tsText = existsSync(`${path}.ts`) ? readFileSync(`${path}.ts`, "utf8") : "";
  const lines = text.split("\n");
  lines.pop(); // the text after the last newline is empty
  const stamps = tsText.split("\n");
  let out = lines.map((line, i) => ({ line, ts: stamps[i] || "1970-01-01T00:00:00.000Z" }));
  if (opts.sinceMs !== undefined) out = out.filter((l) => Date.parse(l.ts) >= opts.sinceMs!);
  if (opts.tailLines !== undefined) out = opts.tailLines <= 0 ? [] : out.slice(-opts.tailLines);
  return out;
}

export function formatLogLine(l: LogLine, timestamps: boolean): string {
  return timestamps ? `${l.ts} ${l.line}\n` : `${l.line}\n`;
}
