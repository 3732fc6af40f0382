// A server-sent-events parser (the WHATWG `text/event-stream` format) that never holds more than a
// bounded number of bytes: an event whose data grows past its limit is refused and the rest of it is
// skipped as it arrives, keeping only its short `event:` and `id:` lines, so the stream goes on and
// the refusal can name the event and move the last event id past it.
import { showEventType } from "@meridian/shared/protocol/events";
import { formatBytes } from "@meridian/shared/protocol/limits";

export interface SseMessage {
  /** `event:` field; "message" when the event had none. */
  type: string;
  /** This event's own `id:` field; undefined when it had none (unlike EventSource, no carry-over). */
  id: string | undefined;
  /** `data:` lines joined with "\n". */
  data: string;
}

export interface SseRefusal {
  type: string;
  id: string | undefined;
  /** e.g. `event "workspace.upsert" exceeds the 1 MiB limit of one event; …` */
  reason: string;
}

export interface SseParserOptions {
  onMessage(m: SseMessage): void;
  onRefused(r: SseRefusal): void;
  /** The data limit of an event of `type`, in bytes. */
  maxEventBytes(type: string): number;
  /** The limit while an event's type is not known yet (its `event:` line may come last). */
  maxAnyEventBytes: number;
  /** The longest line kept while an oversized event is skipped (room for `event:` and `id:`). */
  maxSkippedLineBytes?: number;
}

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const BOM = [0xef, 0xbb, 0xbf];
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

export class SseParser {
  readonly #o: Required<SseParserOptions>;
  /** Bytes of the current, unfinished line. */
  #line: Uint8Array[] = [];
  #lineBytes = 0;
  /** The current line is dropped up to its end: a comment, or past its limit. */
  #lineDropped: "comment" | "too long" | undefined;
  /** The previous chunk ended in CR: a LF opening the next one belongs to the same line break. */
  #afterCr = false;
  /**
   * Bytes of a leading byte-order mark matched so far; undefined once past the stream's start. It is
   * stripped as bytes, before anything else, so that a comment behind it is still a comment.
   */
  #bomBytes: number | undefined = 0;
  #type: string | undefined;
  #id: string | undefined;
  #data: string[] = [];
  #dataBytes = 0;
  /** The current event went past its limit and is being skipped. */
  #tooLarge = false;

  constructor(opts: SseParserOptions) {
    this.#o = { maxSkippedLineBytes: 4096, ...opts };
  }

  feed(chunk: Uint8Array): void {
    if (this.#bomBytes !== undefined) chunk = this.#skipBom(chunk);
    // An empty read must not end a CR's wait for its LF.
    if (chunk.length === 0) return;
    let start = this.#afterCr && chunk[0] === LF ? 1 : 0;
    this.#afterCr = false;
    for (let i = start; i < chunk.length; i++) {
      const b = chunk[i];
      if (b !== LF && b !== CR) continue;
      this.#append(chunk.subarray(start, i));
      this.#endLine();
      if (b === CR) {
        if (i + 1 === chunk.length) this.#afterCr = true;
        else if (chunk[i + 1] === LF) i++;
      }
      start = i + 1;
    }
    this.#append(chunk.subarray(start));
  }

  /** `chunk` without the part of a leading byte-order mark it holds (WHATWG: UTF-8 decode strips one). */
  #skipBom(chunk: Uint8Array): Uint8Array {
    let matched = this.#bomBytes ?? 0;
    let i = 0;
    while (i < chunk.length && matched < BOM.length && chunk[i] === BOM[matched]) {
      matched++;
      i++;
    }
    if (matched === BOM.length || i < chunk.length) this.#bomBytes = undefined;
    else this.#bomBytes = matched; // the whole chunk was a part of one: wait for the rest
    if (matched === BOM.length || i === chunk.length) return chunk.subarray(i);
    // Not a byte-order mark after all: the bytes taken for one are data.
    return Buffer.concat([Uint8Array.from(BOM.slice(0, matched)), chunk.subarray(i)]);
  }

  /** The data limit of the current event: its type's, or the largest while the type is unknown. */
  #eventLimit(): number {
    return this.#type === undefined ? this.#o.maxAnyEventBytes : this.#o.maxEventBytes(this.#type);
  }

  #append(bytes: Uint8Array): void {
    if (bytes.length === 0 || this.#lineDropped) return;
    if (this.#lineBytes === 0 && bytes[0] === COLON) {
      this.#lineDropped = "comment"; // e.g. a keep-alive: nothing in it is ever needed
      return;
    }
    // A line may be short (an `id:` or `event:` line) or take the event's remaining budget, plus room
    // for the field name; past that the event is refused, and the line, like every long line of a
    // skipped event, is dropped unread.
    const length = this.#lineBytes + bytes.length;
    const budget = Math.max(this.#o.maxSkippedLineBytes, this.#eventLimit() - this.#dataBytes) + 8;
    if (!this.#tooLarge && length > budget) this.#refuse();
    if (this.#tooLarge && length > this.#o.maxSkippedLineBytes) {
      this.#lineDropped = "too long";
      this.#line = [];
      this.#lineBytes = 0;
      return;
    }
    this.#line.push(bytes.slice());
    this.#lineBytes += bytes.length;
  }

  #endLine(): void {
    const dropped = this.#lineDropped;
    const line = this.#line.length === 1 ? this.#line[0]! : Buffer.concat(this.#line);
    this.#line = [];
    this.#lineBytes = 0;
    this.#lineDropped = undefined;
    const text = dropped ? undefined : decoder.decode(line);
    // A dropped line is no field, and it is not the blank line that ends an event.
    if (text === undefined) return;
    if (text === "") this.#dispatch();
    else this.#field(text);
  }

  #field(line: string): void {
    const colon = line.indexOf(":");
    const name = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (name === "event") {
      this.#type = value === "" ? "message" : value; // WHATWG: an empty type is the default one
      if (this.#dataBytes > this.#eventLimit()) this.#refuse();
    } else if (name === "id") {
      if (!value.includes("\0")) this.#id = value;
    } else if (name === "data" && !this.#tooLarge) {
      this.#dataBytes += Buffer.byteLength(value) + (this.#data.length > 0 ? 1 : 0);
      if (this.#dataBytes > this.#eventLimit()) this.#refuse();
      else this.#data.push(value);
    }
    // `retry:` and unknown fields are ignored: the client redials on its own schedule.
  }

  #refuse(): void {
    this.#tooLarge = true;
    this.#data = [];
  }

  #dispatch(): void {
    const type = this.#type ?? "message";
    const { data, id } = { data: this.#data, id: this.#id };
    // An event without an `event:` line was held against the largest limit; now its type is known.
    const tooLarge = this.#tooLarge || this.#dataBytes > this.#o.maxEventBytes(type);
    this.#type = undefined;
    this.#id = undefined;
    this.#data = [];
    this.#dataBytes = 0;
    this.#tooLarge = false;
    if (tooLarge) {
      const limit = formatBytes(this.#o.maxEventBytes(type));
      const what = type === "snapshot" ? "a snapshot" : "one event";
      this.#o.onRefused({
        type,
        id,
        reason: `event ${showEventType(type)} exceeds the ${limit} limit of ${what}; its data was skipped unread`,
      });
    } else if (data.length > 0) this.#o.onMessage({ type, id, data: data.join("\n") });
  }
}
