import assert from "node:assert/strict";
import { test } from "node:test";
import { type SseMessage, SseParser, type SseParserOptions, type SseRefusal } from "./sse.ts";

function parser(opts: Partial<SseParserOptions> = {}) {
  const messages: SseMessage[] = [];
  const refused: SseRefusal[] = [];
  const p = new SseParser({
    onMessage: (m) => void messages.push(m),
    onRefused: (r) => void refused.push(r),
    maxEventBytes: (type) => (type === "snapshot" ? 1000 : 100),
    maxAnyEventBytes: 1000,
    maxSkippedLineBytes: 64,
    ...opts,
  });
  const feed = (...chunks: (string | Uint8Array)[]) => {
    for (const c of chunks) p.feed(typeof c === "string" ? Buffer.from(c) : c);
  };
  return { feed, messages, refused };
}

test("fields, multi-line data, comments and every kind of line break", () => {
  const { feed, messages } = parser();
  feed("id: 1\nevent: a\ndata: x\ndata:y\n\n", ": keep-alive\n\n", "id:2\r\nevent: b\r\ndata: z\r\n\r\n");
  feed("event: c\rdata: w\r", "\n\r"); // CR LF split across chunks is one line break
  feed("data: no-type\n\n", "retry: 10\nfoo: bar\nid: 9\n\n"); // no data: nothing dispatched
  assert.deepEqual(messages, [
    { type: "a", id: "1", data: "x\ny" },
    { type: "b", id: "2", data: "z" },
    { type: "c", id: undefined, data: "w" },
    { type: "message", id: undefined, data: "no-type" },
  ]);
});

test("an event split anywhere, byte by byte, multi-byte characters included", () => {
  const { feed, messages } = parser();
  const bytes = Buffer.from('\uFEFFid: 7\nevent: ü\ndata: {"k":"ä€"}\n\n');
  for (const b of bytes) feed(Uint8Array.of(b));
  assert.deepEqual(messages, [{ type: "ü", id: "7", data: '{"k":"ä€"}' }]);
});

test("an id with NUL is ignored; an event without an id line has none (no carry-over)", () => {
  const { feed, messages } = parser();
  feed("id: 3\nevent: a\ndata: 1\n\n", "id: 4\0\nevent: a\ndata: 2\n\n");
  assert.deepEqual(
    messages.map((m) => m.id),
    ["3", undefined],
  );
});

test("an event over its type's limit is refused with a reason, keeps its id, and the stream goes on", () => {
  const { feed, messages, refused } = parser();
  feed("id: 5\nevent: a\n", `data: ${"x".repeat(60)}\n`, `data: ${"y".repeat(60)}\n`, "\n");
  feed("id: 6\nevent: a\ndata: fine\n\n");
  assert.deepEqual(refused, [
    {
      type: "a",
      id: "5",
      reason: 'event "a" exceeds the 100 bytes limit of one event; its data was skipped unread',
    },
  ]);
  assert.deepEqual(messages, [{ type: "a", id: "6", data: "fine" }]);
});

test("a snapshot has its own, larger limit", () => {
  const { feed, messages, refused } = parser();
  feed(`event: snapshot\nid: 1\ndata: ${"s".repeat(900)}\n\n`);
  feed(`event: snapshot\nid: 2\ndata: ${"s".repeat(1001)}\n\n`);
  assert.equal(messages.length, 1);
  assert.equal(refused[0]?.id, "2");
  assert.match(refused[0]?.reason ?? "", /exceeds the 1000 bytes limit of a snapshot/);
});

test("an event whose type comes after its data is measured against its type once known", () => {
  const { feed, messages, refused } = parser();
  feed(`data: ${"d".repeat(500)}\nevent: small\nid: 8\n\n`);
  assert.equal(messages.length, 0);
  assert.equal(refused[0]?.type, "small");
  assert.equal(refused[0]?.id, "8");
});

test("an endless line is never held whole: memory stays at the limit, the event is refused", () => {
  const { feed, messages, refused } = parser({ maxEventBytes: () => 1024, maxAnyEventBytes: 1024 });
  const before = process.memoryUsage().arrayBuffers;
  const mib = Buffer.alloc(1024 * 1024, "a");
  feed("id: 10\nevent: big\ndata: ");
  for (let i = 0; i < 64; i++) feed(mib); // 64 MiB in one line
  const held = process.memoryUsage().arrayBuffers - before;
  assert.ok(held < 8 * 1024 * 1024, `the parser holds ${held} bytes`);
  feed("\nid: 11\n\n", "id: 12\nevent: ok\ndata: {}\n\n");
  assert.deepEqual(
    refused.map((r) => [r.type, r.id]),
    [["big", "11"]],
    "the last id line of the event wins, as in SSE",
  );
  assert.deepEqual(messages, [{ type: "ok", id: "12", data: "{}" }]);
});

test("a comment line of any length is dropped without being held", () => {
  const { feed, messages, refused } = parser();
  feed(":", "c".repeat(10_000), "\n\nid: 1\nevent: a\ndata: 1\n\n");
  assert.equal(refused.length, 0);
  assert.equal(messages.length, 1);
});

test("a long id or event line in a skipped event is skipped too", () => {
  const { feed, refused } = parser();
  feed(`event: a\ndata: ${"x".repeat(200)}\nid: ${"9".repeat(100)}\n\n`);
  assert.deepEqual(
    refused.map((r) => [r.type, r.id]),
    [["a", undefined]],
  );
});
