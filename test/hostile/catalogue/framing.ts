// Hostile SSE framing on the agent stream. The parser follows the WHATWG rules (CR, LF and CRLF end
// lines; unknown fields, comments and `retry:` are ignored; an event without data is not an event);
// everything else it refuses with a named reason. Most inputs carry a workspace refused for one field
// (BAD_QUOTA), so the reason proves how the bytes were framed, or a valid one, so that applying it by
// mistake would show as a new namespace.
import { BAD_QUOTA, badWorkspace, lines, rawEvent, workspace } from "./bytes.ts";
import type { StreamInput } from "./types.ts";

const NOT_JSON = /^event "workspace\.upsert" is not valid JSON/;
const NO_ID = /^event "workspace\.upsert" carries no new id/;
const bad = (id: string) => JSON.stringify({ workspace: badWorkspace(id) });
const good = (id: string) => JSON.stringify({ workspace: workspace(id) });
const UPSERT = "event: workspace.upsert";

const entry = (e: Omit<StreamInput, "class" | "stream">): StreamInput => ({
  ...e,
  class: "framing",
  stream: "agent",
});

export const framing: StreamInput[] = [
  entry({
    name: "cr-only-line-endings",
    what: "every line ended by a lone CR (old Mac style)",
    bytes: (c) => [lines([`id: ${c.next()}`, UPSERT, `data: ${bad("cr-only")}`], "\r")],
    expect: { kind: "refused", reason: BAD_QUOTA },
  }),
  entry({
    name: "lf-cr-splits-event",
    what: "LF followed by CR: the CR is a blank line that ends the event after its id, before its data",
    bytes: (c) => [`id: ${c.next()}\n\r${UPSERT}\ndata: ${good("lf-cr")}\n\n`],
    expect: { kind: "refused", reason: NO_ID },
  }),
  entry({
    name: "nul-in-data",
    what: "a raw NUL byte inside a JSON string of the data",
    bytes: (c) => rawEvent(c, "workspace.upsert", good("nul").replace('"nul"', '"n\u0000ul"')),
    expect: { kind: "refused", reason: NOT_JSON },
  }),
  entry({
    name: "nul-in-field-name",
    what: "`da\\0ta:` — a field name with a NUL is no data field, so the event has no data",
    bytes: (c) => [lines([`id: ${c.next()}`, UPSERT, `da\u0000ta: ${good("nul-field")}`])],
    expect: { kind: "ignored", why: "an event without a data field is not dispatched (WHATWG)" },
  }),
  entry({
    name: "bom-mid-stream",
    what: "a byte-order mark before `id:` in the middle of the stream makes it an unknown field",
    bytes: (c) => [lines([`\uFEFFid: ${c.next()}`, UPSERT, `data: ${good("bom-mid")}`])],
    expect: { kind: "refused", reason: NO_ID },
  }),
  entry({
    name: "bom-in-data",
    what: "a byte-order mark in front of the JSON of the data",
    bytes: (c) => rawEvent(c, "workspace.upsert", `\uFEFF${good("bom-data")}`),
    expect: { kind: "refused", reason: NOT_JSON },
  }),
  entry({
    name: "invalid-utf8-in-data",
    what: "bytes that are not UTF-8 (0xC3 0x28) inside quota.cpu",
    bytes: (c) => {
      const [head, tail] = bad("utf8").split('"lots"') as [string, string];
      return [`id: ${c.next()}\n${UPSERT}\ndata: ${head}"1`, Uint8Array.from([0xc3, 0x28]), `"${tail}\n\n`];
    },
    expect: { kind: "refused", reason: BAD_QUOTA },
  }),
  entry({
    name: "invalid-utf8-in-event-type",
    what: "a 0xFF byte inside the event type",
    bytes: (c) => [
      `id: ${c.next()}\nevent: workspace.`,
      Uint8Array.from([0xff]),
      `upsert\ndata: ${good("x")}\n\n`,
    ],
    expect: { kind: "refused", reason: /^unknown event type "workspace\.\uFFFDupsert"/ },
  }),
  entry({
    name: "overlong-utf8-in-id",
    what: "an overlong UTF-8 encoding of '/' (0xC0 0xAF) inside the workspace id",
    bytes: (c) => [
      `id: ${c.next()}\n${UPSERT}\ndata: {"workspace":{"id":"a`,
      Uint8Array.from([0xc0, 0xaf]),
      `b","generation":1,"quota":{"cpu":"1","memory":"1Gi"}}}\n\n`,
    ],
    expect: { kind: "refused", reason: /workspace\.id: must be lowercase letters/ },
  }),
  entry({
    name: "field-without-colon",
    what: "a line `data` with no colon: a data field with an empty value",
    bytes: (c) => [lines([`id: ${c.next()}`, UPSERT, "data"])],
    expect: { kind: "refused", reason: NOT_JSON },
  }),
  entry({
    name: "data-line-flood",
    what: "100,000 data lines of one or no character, together a JSON document within the limit",
    bytes: (c) => {
      const text = JSON.stringify({ workspace: workspace("flood", { generation: 0 }) });
      const [head, tail] = [text.slice(0, text.indexOf(":{")), text.slice(text.indexOf(":{") + 2)];
      return [
        `id: ${c.next()}\n${UPSERT}\ndata: ${head}:\n`,
        { repeat: "data:\n", times: 99_998 },
        `data: {${tail}\n\n`,
      ];
    },
    expect: { kind: "refused", reason: /workspace\.generation: Too small/ },
  }),
  entry({
    name: "data-lines-over-limit",
    what: "400,000 short data lines adding up past the 1 MiB limit of one event",
    bytes: (c) => [`id: ${c.next()}\n${UPSERT}\n`, { repeat: "data: xx\n", times: 400_000 }, "\n"],
    expect: { kind: "refused", reason: /^event "workspace\.upsert" exceeds the 1 MiB limit of one event/ },
  }),
  entry({
    name: "event-type-unknown",
    what: "a type the protocol does not have: workspace.create",
    bytes: (c) => rawEvent(c, "workspace.create", good("create")),
    expect: { kind: "refused", reason: /^unknown event type "workspace\.create"/ },
  }),
  entry({
    name: "event-type-empty",
    what: "`event:` with no value, which WHATWG reads as the default type `message`",
    bytes: (c) => [lines([`id: ${c.next()}`, "event:", `data: ${good("empty-type")}`])],
    expect: { kind: "refused", reason: /^unknown event type "message"/ },
  }),
  entry({
    name: "event-type-missing",
    what: "an event with no `event:` line at all",
    bytes: (c) => [lines([`id: ${c.next()}`, `data: ${good("no-type")}`])],
    expect: { kind: "refused", reason: /^unknown event type "message"/ },
  }),
  entry({
    name: "event-type-huge",
    what: "an event type of 200,000 characters",
    bytes: (c) => [`id: ${c.next()}\nevent: `, { repeat: "x", times: 200_000 }, `\ndata: ${good("x")}\n\n`],
    expect: { kind: "refused", reason: /^unknown event type "x{100}…"$/ },
  }),
  entry({
    name: "event-type-terminal-escapes",
    what: "ANSI escape sequences in the event type (a log-injection attempt)",
    bytes: (c) => rawEvent(c, "\u001b[2J\u001b[31mworkspace.upsert", good("ansi")),
    expect: { kind: "refused", reason: /^unknown event type "\\u001b\[2J\\u001b\[31mworkspace\.upsert"/ },
  }),
  entry({
    name: "event-line-after-data",
    what: "the `event:` line after the data lines",
    bytes: (c) => [lines([`id: ${c.next()}`, `data: ${bad("late-type")}`, UPSERT])],
    expect: { kind: "refused", reason: BAD_QUOTA },
  }),
  entry({
    name: "event-line-repeated",
    what: "two `event:` lines, snapshot then workspace.upsert: the last one counts",
    bytes: (c) => [lines([`id: ${c.next()}`, "event: snapshot", UPSERT, `data: ${bad("two-types")}`])],
    expect: { kind: "refused", reason: BAD_QUOTA },
  }),
  entry({
    name: "no-space-after-colon",
    what: "`id:7`, `event:x`, `data:{…}` with no space after the colons",
    bytes: (c) => [`id:${c.next()}\nevent:workspace.upsert\ndata:${bad("no-space")}\n\n`],
    expect: { kind: "refused", reason: BAD_QUOTA },
  }),
  entry({
    name: "two-spaces-after-colon",
    what: "`data:  {…}`: only the first space is part of the syntax",
    bytes: (c) => [lines([`id: ${c.next()}`, UPSERT, `data:  ${bad("two-spaces")}`])],
    expect: { kind: "refused", reason: BAD_QUOTA },
  }),
  entry({
    name: "space-before-colon",
    what: "`data : {…}` with a valid workspace: the field is `data `, unknown, so the event has no data",
    bytes: (c) => [lines([`id: ${c.next()}`, UPSERT, `data : ${good("space-colon")}`])],
    expect: { kind: "ignored", why: "`data ` is an unknown field; an event without data is not dispatched" },
  }),
  entry({
    name: "unicode-line-separator",
    what: "U+2028 (a line break to JavaScript, not to SSE) inside the workspace id",
    bytes: (c) => rawEvent(c, "workspace.upsert", good("line\u2028sep")),
    expect: { kind: "refused", reason: /workspace\.id: must be lowercase letters/ },
  }),
  entry({
    name: "retry-zero",
    what: "`retry: 0`, asking for reconnects without delay",
    bytes: () => ["retry: 0\n\n"],
    expect: { kind: "ignored", why: "retry: is ignored; the client redials on its own backoff" },
  }),
  entry({
    name: "retry-huge",
    what: "`retry: 1000000000000`, asking never to reconnect",
    bytes: () => ["retry: 1000000000000\n\n"],
    expect: { kind: "ignored", why: "retry: is ignored; the client redials on its own backoff" },
  }),
  entry({
    name: "retry-negative-with-event",
    what: "`retry: -1` inside an event",
    bytes: (c) => [lines([`id: ${c.next()}`, "retry: -1", UPSERT, `data: ${bad("retry-neg")}`])],
    expect: { kind: "refused", reason: BAD_QUOTA },
  }),
  entry({
    name: "comment-flood",
    what: "100,000 comment lines in a row",
    bytes: () => [{ repeat: ": keep-alive\n", times: 100_000 }, "\n"],
    expect: { kind: "ignored", why: "comments are dropped as they arrive, never held" },
  }),
  entry({
    name: "comment-giant-line",
    what: "one comment line of 20 MB",
    bytes: () => [":", { repeat: "c".repeat(65_536), times: 320 }, "\n\n"],
    expect: { kind: "ignored", why: "a comment is dropped as it arrives, whatever its length" },
  }),
  entry({
    name: "unknown-fields",
    what: "fields the format does not have (`foo:`, `authorization:`)",
    bytes: () => ["foo: bar\nauthorization: Bearer x\n\n"],
    expect: { kind: "ignored", why: "unknown fields are ignored; an event without data is not dispatched" },
  }),
  entry({
    name: "blank-line-flood",
    what: "100,000 blank lines",
    bytes: () => [{ repeat: "\n", times: 100_000 }],
    expect: { kind: "ignored", why: "a blank line with no event before it dispatches nothing" },
  }),
];
