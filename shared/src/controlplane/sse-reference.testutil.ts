// The WHATWG `text/event-stream` interpretation of a whole stream, written straight from the spec
// (html.spec.whatwg.org, "Interpreting an event stream") with no streaming, no limits and no
// shortcuts: the oracle the fuzz tests hold the real parser against. It reports every block that a
// blank line ends — with or without data — so a test can also see what a dispatch would carry.

export interface ReferenceBlock {
  /** The event type buffer at dispatch, or "message" when it is empty. */
  type: string;
  /** The value of this block's last `id:` line without NUL; undefined when it had none. */
  ownId: string | undefined;
  /** The last event ID string after this block (the buffer is never reset: it carries over). */
  lastEventId: string;
  /** The data buffer without its final LF; undefined when it was empty (no event is dispatched). */
  data: string | undefined;
  /** UTF-8 bytes of the data lines' values joined with LF (what a size limit measures). */
  dataBytes: number;
  /** UTF-8 bytes of the block's longest line that is not a comment. */
  longestFieldLine: number;
  /** UTF-8 bytes of its longest `id` or `event` line (a parser skipping an oversized event may drop long ones). */
  longestIdOrTypeLine: number;
  /** Every `event:` value of the block, in order (a size limit may follow the type as it changes). */
  types: string[];
}

/** Splits decoded text into lines; the text after the last line break is an unfinished line. */
export function splitLines(text: string): { lines: string[]; rest: string } {
  const lines: string[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c !== "\n" && c !== "\r") continue;
    lines.push(text.slice(start, i));
    if (c === "\r" && text[i + 1] === "\n") i++;
    start = i + 1;
  }
  return { lines, rest: text.slice(start) };
}

/**
 * Every block of `bytes` that a blank line ends, in order. The stream is UTF-8 decoded as a whole
 * (one leading byte-order mark stripped, invalid sequences replaced by U+FFFD); an unfinished event
 * at the end is discarded, as at the end of a stream.
 */
export function referenceBlocks(bytes: Uint8Array): ReferenceBlock[] {
  const text = new TextDecoder("utf-8").decode(bytes);
  const out: ReferenceBlock[] = [];
  let type = "";
  let data = "";
  let dataLines: string[] = [];
  let lastEventId = "";
  let ownId: string | undefined;
  let longest = 0;
  let longestIdOrType = 0;
  let types: string[] = [];
  for (const line of splitLines(text).lines) {
    if (line === "") {
      out.push({
        type: type === "" ? "message" : type,
        ownId,
        lastEventId,
        data: data === "" ? undefined : data.slice(0, -1),
        dataBytes: Buffer.byteLength(dataLines.join("\n")),
        longestFieldLine: longest,
        longestIdOrTypeLine: longestIdOrType,
        types,
      });
      type = "";
      data = "";
      dataLines = [];
      ownId = undefined;
      longest = 0;
      longestIdOrType = 0;
      types = [];
      continue;
    }
    if (line.startsWith(":")) continue;
    longest = Math.max(longest, Buffer.byteLength(line));
    const colon = line.indexOf(":");
    const name = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (name === "event" || name === "id")
      longestIdOrType = Math.max(longestIdOrType, Buffer.byteLength(line));
    if (name === "event") {
      type = value;
      types.push(value);
    } else if (name === "data") {
      data += `${value}\n`;
      dataLines.push(value);
    } else if (name === "id" && !value.includes("\0")) {
      lastEventId = value;
      ownId = value;
    }
    // `retry` and any other field: ignored (retry only sets the reconnection time).
  }
  return out;
}

/** Cuts `bytes` at the given offsets (any order, repeats allowed: repeats make empty chunks). */
export function chunksAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...cuts].map((c) => Math.min(Math.max(0, c), bytes.length)).sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let start = 0;
  for (const p of points) {
    out.push(bytes.subarray(start, p));
    start = p;
  }
  out.push(bytes.subarray(start));
  return out;
}
