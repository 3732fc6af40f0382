// Property-based fuzzing of the SSE parser against the WHATWG reference interpretation
// (sse-reference.testutil.ts): whatever the bytes and however they are cut into chunks, the parser
// never throws, delivers exactly the events the spec dispatches (type, own id, data) while they are
// within their limits, refuses with a reason every event beyond them, and gives the same answer for
// every chunking of the same bytes.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isDeepStrictEqual } from "node:util";
import { showEventType } from "@meridian/shared/protocol/events";
import { MAX_ANY_EVENT_BYTES, maxEventBytes } from "@meridian/shared/protocol/limits";
import fc from "fast-check";
import { fuzzParams } from "../fuzz.testutil.ts";
import { SseParser } from "./sse.ts";
import { chunksAt, type ReferenceBlock, referenceBlocks } from "./sse-reference.testutil.ts";

interface Limits {
  event: (type: string) => number;
  any: number;
  skippedLine: number;
}
const PROTOCOL: Limits = { event: maxEventBytes, any: MAX_ANY_EVENT_BYTES, skippedLine: 4096 };
/** Tiny limits, so that events beyond them are common and cheap to make. */
const TINY: Limits = { event: (t) => (t === "snapshot" ? 400 : 100), any: 400, skippedLine: 48 };

type Out =
  | { kind: "message"; type: string; id: string | undefined; data: string }
  | { kind: "refused"; type: string; id: string | undefined; reason: string };

function run(chunks: readonly Uint8Array[], limits: Limits): Out[] {
  const out: Out[] = [];
  const p = new SseParser({
    onMessage: (m) => void out.push({ kind: "message", ...m }),
    onRefused: (r) => void out.push({ kind: "refused", ...r }),
    maxEventBytes: limits.event,
    maxAnyEventBytes: limits.any,
    maxSkippedLineBytes: limits.skippedLine,
  });
  for (const c of chunks) p.feed(c);
  return out;
}

// ---- Streams: lines of every kind, every line break, byte-order marks, huge values -------------

const eol = fc.constantFrom("\n", "\r", "\r\n");
const text = (maxLength: number) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.string({ maxLength }) },
    { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength }) },
    { weight: 1, arbitrary: fc.constantFrom("", " ", "\0", "7\0", "\uFEFF", "ü€𝄞", "snapshot") },
  );
/** Without CR and LF: a value that stays on its line. */
const lineText = (maxLength: number) => text(maxLength).map((s) => s.replace(/[\r\n]/g, ""));
const fieldName = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom("data", "event", "id", "retry") },
  { weight: 1, arbitrary: fc.constantFrom("Data", "dat", "data ", "ids", "", "\uFEFFdata", "eventx") },
  { weight: 1, arbitrary: lineText(6) },
);
const separator = fc.constantFrom(":", ": ", ":  ", "");
/** A value thousands of bytes long, made by repetition (cheap to generate, hard to parse). */
const huge = (maxBytes: number) =>
  fc
    .tuple(fc.constantFrom("x", "ü", '{"a":1}', "€ ", "𝄞"), fc.integer({ min: 1, max: maxBytes / 4 }))
    .map(([unit, n]) => unit.repeat(n));

function fieldLine(maxHuge: number) {
  const value = fc.oneof(
    { weight: 12, arbitrary: lineText(16) },
    { weight: 2, arbitrary: fc.json({ maxDepth: 2 }) },
    { weight: maxHuge > 0 ? 1 : 0, arbitrary: huge(Math.max(4, maxHuge)) },
  );
  return fc
    .tuple(fieldName, separator, value)
    .map(([name, sep, v]) => (sep === "" ? name : `${name}${sep}${v}`));
}

function line(maxHuge: number) {
  return fc.oneof(
    { weight: 10, arbitrary: fieldLine(maxHuge) },
    { weight: 2, arbitrary: lineText(24).map((c) => `:${c}`) },
    { weight: 4, arbitrary: fc.constant("") },
  );
}

/** A whole stream as text: optional byte-order marks, lines with mixed breaks, an unfinished tail. */
function stream(maxHuge: number) {
  return fc
    .tuple(
      fc.constantFrom("", "", "", "\uFEFF", "\uFEFF\uFEFF"),
      fc.array(fc.tuple(line(maxHuge), eol), { maxLength: 40 }),
      fc.option(lineText(12), { nil: "" }),
    )
    .map(([bom, lines, tail]) => `${bom}${lines.map(([l, e]) => l + e).join("")}${tail}`);
}

/** Raw bytes built from SSE tokens, broken UTF-8 and noise. */
const tokenBytes = fc.constantFrom(
  ...[
    "data:",
    "data: ",
    "event: ",
    "id: ",
    "id:",
    ":",
    "\r",
    "\n",
    "\r\n",
    "\n\n",
    "\uFEFF",
    "snapshot",
    "\0",
    "7",
  ].map((s) => Buffer.from(s)),
  Uint8Array.of(0xef, 0xbb),
  Uint8Array.of(0xc3),
  Uint8Array.of(0xf0, 0x9d),
  Uint8Array.of(0xff),
);
const rawBytes = fc
  .array(
    fc.oneof({ weight: 3, arbitrary: tokenBytes }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 6 }) }),
    {
      maxLength: 80,
    },
  )
  .map((parts) => Buffer.concat(parts));

/** Cut points; repeats make empty chunks. */
const cuts = fc.array(fc.nat(), { maxLength: 24 });
const cutsIn = (bytes: Uint8Array, points: number[]) =>
  chunksAt(
    bytes,
    points.map((p) => p % (bytes.length + 1)),
  );

/**
 * Events whose blocks are known: block k holds `id: k` somewhere among its other lines (none of
 * which is an `id` line), so every output names the block it came from.
 */
const numberedBlocks = fc
  .tuple(
    fc.constantFrom("", "", "\uFEFF"),
    fc.array(
      fc.tuple(
        fc.array(
          fc.tuple(
            line(600).filter((l) => l !== ""),
            eol,
          ),
          { maxLength: 8 },
        ),
        fc.nat(),
        eol,
      ),
      { maxLength: 12 },
    ),
  )
  .map(([bom, blocks]) => {
    let text = "";
    let prevEol = "";
    const pieces: [string, string][] = [];
    blocks.forEach(([lines, idAt, end], k) => {
      const body = lines.map(([l, e]): [string, string] => [l.replace(/^id(:|$)/, "idx$1"), e]);
      body.splice(idAt % (body.length + 1), 0, [`id: ${k}`, "\n"]);
      pieces.push(...body, ["", end]);
    });
    for (const [l, e] of pieces) {
      // A CR then a blank line's LF would be one CRLF line break, not a blank line.
      text += l === "" && prevEol === "\r" && e === "\n" ? "\r\n" : l + e;
      prevEol = e;
    }
    // A line that starts with U+FEFF would lose it as the stream's byte-order mark.
    return { text: (bom || text.startsWith("\uFEFF") ? "\uFEFF" : "") + text, count: blocks.length };
  });

// ---- Checking one run against the reference -----------------------------------------------------

/** What the limits say of a block: certainly delivered, certainly refused, or either. */
function classify(b: ReferenceBlock, limits: Limits): "fits" | "too large" | "either" {
  const finalLimit = limits.event(b.type);
  const tightest = Math.min(
    limits.any,
    finalLimit,
    ...b.types.map((t) => limits.event(t === "" ? "message" : t)),
  );
  // +3: a byte-order mark counts towards the first line's length.
  if (b.dataBytes + b.longestFieldLine + 3 <= tightest) return "fits";
  if (b.dataBytes > finalLimit || b.longestFieldLine > limits.any + 8) return "too large";
  return "either";
}

const delivered = (b: ReferenceBlock): Out | undefined =>
  b.data === undefined ? undefined : { kind: "message", type: b.type, id: b.ownId, data: b.data };

function checkRefusal(o: Out, b: ReferenceBlock, limits: Limits): void {
  assert.equal(o.kind, "refused", `expected a refusal of ${JSON.stringify(b).slice(0, 300)}`);
  if (o.kind !== "refused") return;
  assert.ok(o.reason.includes(showEventType(o.type)), `the reason names the type: ${o.reason}`);
  assert.equal(o.id, b.ownId, "a refusal carries the event's id");
  if (b.longestIdOrTypeLine <= limits.skippedLine)
    assert.equal(o.type, b.type, "a refusal names the event's type");
}

/**
 * Numbered blocks against the parser's output: a block that fits is delivered exactly, one too large
 * is refused, one in between either; a block without data gives nothing unless a line was too long.
 */
function checkNumbered(out: readonly Out[], blocks: readonly ReferenceBlock[], limits: Limits): void {
  let i = 0;
  for (const b of blocks) {
    const got = out[i]?.id === b.ownId ? out[i] : undefined;
    const want = delivered(b);
    const cls = classify(b, limits);
    const what = `block ${JSON.stringify(b).slice(0, 300)}: got ${JSON.stringify(got)?.slice(0, 200)}`;
    if (cls === "too large")
      checkRefusal(got ?? { kind: "message", type: "", id: undefined, data: "" }, b, limits);
    else if (got?.kind === "message" || (cls === "fits" && want)) assert.deepEqual(got, want, what);
    else if (got) checkRefusal(got, b, limits);
    if (got) i++;
  }
  assert.equal(
    i,
    out.length,
    `the parser gave what the stream does not hold: ${JSON.stringify(out.slice(i)).slice(0, 300)}`,
  );
}

/** Messages must be a subsequence of what the reference dispatches (greedy matching is exact here). */
function checkMessagesAreDispatched(out: readonly Out[], blocks: readonly ReferenceBlock[]): void {
  let j = 0;
  for (const o of out) {
    if (o.kind !== "message") continue;
    while (j < blocks.length && !isDeepStrictEqual(delivered(blocks[j]!), o)) j++;
    assert.ok(j < blocks.length, `${JSON.stringify(o).slice(0, 200)} is not an event of the stream`);
    j++;
  }
}

// ---- Properties ---------------------------------------------------------------------------------

test("within the protocol's limits, any chunking of any stream gives exactly the WHATWG events", () => {
  fc.assert(
    fc.property(stream(200_000), cuts, (s, points) => {
      const bytes = Buffer.from(s);
      const blocks = referenceBlocks(bytes);
      fc.pre(blocks.every((b) => classify(b, PROTOCOL) === "fits"));
      const want = blocks.flatMap((b) => delivered(b) ?? []);
      assert.deepEqual(run(cutsIn(bytes, points), PROTOCOL), want);
    }),
    fuzzParams(300),
  );
});

test("with tiny limits, what fits is delivered exactly and what does not is refused with a reason", () => {
  fc.assert(
    fc.property(numberedBlocks, cuts, ({ text, count }, points) => {
      const bytes = Buffer.from(text);
      const blocks = referenceBlocks(bytes);
      assert.deepEqual(
        blocks.map((b) => b.ownId),
        Array.from({ length: count }, (_, k) => String(k)),
        "the generator makes one block per number",
      );
      checkNumbered(run(cutsIn(bytes, points), TINY), blocks, TINY);
    }),
    fuzzParams(400),
  );
});

test("arbitrary bytes: never throws, the same output for every chunking, only events of the stream", () => {
  fc.assert(
    fc.property(rawBytes, cuts, cuts, fc.constantFrom(PROTOCOL, TINY), (bytes, a, b, limits) => {
      const whole = run([bytes], limits);
      assert.deepEqual(run(cutsIn(bytes, a), limits), whole);
      assert.deepEqual(run(cutsIn(bytes, b), limits), whole);
      assert.deepEqual(
        run(
          [...bytes].map((x) => Uint8Array.of(x)),
          limits,
        ),
        whole,
      );
      checkMessagesAreDispatched(whole, referenceBlocks(bytes));
      for (const o of whole) if (o.kind === "refused") assert.match(o.reason, /exceeds the .* limit/);
    }),
    fuzzParams(400),
  );
});

// ---- What the fuzzing found, kept as plain cases ------------------------------------------------

function tiny(...chunks: string[]): Out[] {
  return run(
    chunks.map((c) => Buffer.from(c)),
    TINY,
  );
}

test("found: an empty read between a CR and its LF does not make a blank line", () => {
  assert.deepEqual(run([Buffer.from("data: a\r"), new Uint8Array(0), Buffer.from("\nid: 1\n\n")], PROTOCOL), [
    { kind: "message", type: "message", id: "1", data: "a" },
  ]);
});

test("found: `event:` with no value is the default type, as in WHATWG", () => {
  assert.deepEqual(tiny("event:\ndata: a\n\n"), [
    { kind: "message", type: "message", id: undefined, data: "a" },
  ]);
});

test("found: a short id or event line after data near the limit neither refuses the event nor is lost", () => {
  const data = "x".repeat(95);
  assert.deepEqual(tiny(`event: a\ndata: ${data}\nid: 1234567890\nevent: b\n\n`), [
    { kind: "message", type: "b", id: "1234567890", data },
  ]);
  const [refused] = tiny(`event: a\ndata: ${data}\ndata: xxxxxx\nid: 1234567890\nevent: b\n\n`);
  assert.deepEqual([refused?.kind, refused?.type, refused?.id], ["refused", "b", "1234567890"]);
});

test("found: an event without an `event:` line is held to its type's limit, not the largest", () => {
  const out = tiny(`data: ${"x".repeat(101)}\n\n`);
  assert.deepEqual(
    out.map((o) => o.kind),
    ["refused"],
  );
});

test("found: a comment behind the byte-order mark is a comment, whatever its length", () => {
  assert.deepEqual(tiny("\uFEFF", `:${"c".repeat(1000)}\nid: 1\ndata: a\n\n`), [
    { kind: "message", type: "message", id: "1", data: "a" },
  ]);
  assert.deepEqual(tiny("\xEF"), [], "a lone byte is no mark but data of an unfinished line");
});
