// Event-id games on the agent stream. The policy (shared/src/controlplane/stream.ts): a delta needs
// a decimal id after the last one; a snapshot may carry any decimal id and restarts the sequence; an
// event refused for its content still moves the last id forward, so a poison event is not replayed.
// Most inputs here carry a valid workspace: applying it by mistake would show as a new namespace.
import { agentSnapshot, BAD_QUOTA, badWorkspace, before, lines, workspace } from "./bytes.ts";
import type { StreamInput } from "./types.ts";

const UPSERT = "event: workspace.upsert";
const data = (spec: unknown) => `data: ${JSON.stringify({ workspace: spec })}`;
/** A workspace.upsert of a valid workspace under the id `id`. */
const withId = (id: string, wsId: string) => lines([`id: ${id}`, UPSERT, data(workspace(wsId))]);
const NOT_DECIMAL = (shown: string) =>
  new RegExp(`^event "workspace\\.upsert" has id "${shown}", not a decimal number`);

const entry = (e: Omit<StreamInput, "class" | "stream">): StreamInput => ({
  ...e,
  class: "ids",
  stream: "agent",
});

export const ids: StreamInput[] = [
  entry({
    name: "id-backwards",
    what: "a valid workspace under the id before the last one",
    bytes: (c) => [withId(before(c.last), "id-back")],
    expect: {
      kind: "refused",
      reason: /^event "workspace\.upsert" has id \d+, not after the last event id \d+$/,
    },
  }),
  entry({
    name: "id-repeated",
    what: "a valid workspace under the last id again",
    bytes: (c) => [withId(c.last, "id-again")],
    expect: { kind: "refused", reason: /has id (\d+), not after the last event id \1$/ },
  }),
  entry({
    name: "id-duplicate-different-data",
    what: "two events with the same id: a refused one, then a valid workspace",
    bytes: (c) => {
      const id = c.next();
      return [lines([`id: ${id}`, UPSERT, data(badWorkspace("dup-first"))]), withId(id, "dup-second")];
    },
    expect: { kind: "refused", count: 2, reason: /has id (\d+), not after the last event id \1$/ },
  }),
  entry({
    name: "id-gap",
    what: "an id a million past the last: gaps are allowed, the content decides",
    bytes: (c) => [
      lines([`id: ${(BigInt(c.last) + 1_000_000n).toString()}`, UPSERT, data(badWorkspace("gap"))]),
    ],
    expect: { kind: "refused", reason: BAD_QUOTA },
  }),
  entry({
    name: "id-non-numeric",
    what: "id `abc`",
    bytes: () => [withId("abc", "id-abc")],
    expect: { kind: "refused", reason: NOT_DECIMAL("abc") },
  }),
  entry({
    name: "id-negative",
    what: "id `-1`",
    bytes: () => [withId("-1", "id-neg")],
    expect: { kind: "refused", reason: NOT_DECIMAL("-1") },
  }),
  entry({
    name: "id-exponent",
    what: "id `1e30`, a number only to a float parser",
    bytes: () => [withId("1e30", "id-exp")],
    expect: { kind: "refused", reason: NOT_DECIMAL("1e30") },
  }),
  entry({
    name: "id-41-digits",
    what: "an id of 41 digits, past the 40 an id may have",
    bytes: () => [withId("9".repeat(41), "id-41")],
    expect: { kind: "refused", reason: NOT_DECIMAL("9{40}") },
  }),
  entry({
    name: "id-40-digits-then-snapshot",
    what: "the largest id (40 nines): later deltas cannot follow it until a snapshot restarts the sequence",
    bytes: (c) => [
      lines([`id: ${"9".repeat(40)}`, UPSERT, data(badWorkspace("id-max"))]),
      withId(c.next(), "id-after-max"),
      ...agentSnapshot(c, [], "1"),
    ],
    expect: { kind: "refused", count: 2, reason: /not after the last event id 9{40}$/ },
  }),
  entry({
    name: "id-with-nul",
    what: "an id with a NUL byte, which WHATWG ignores: the event has no id",
    bytes: (c) => [withId(`${c.next()}\u0000`, "id-nul")],
    expect: { kind: "refused", reason: /^event "workspace\.upsert" carries no new id/ },
  }),
  entry({
    name: "id-empty",
    what: "`id:` with no value (WHATWG: resets the last event id)",
    bytes: () => [withId("", "id-empty")],
    expect: { kind: "refused", reason: NOT_DECIMAL("") },
  }),
  entry({
    name: "id-leading-zeros-backwards",
    what: "an id with leading zeros that sorts after the last as text but is smaller as a number",
    bytes: (c) => [withId(`000000${before(c.last)}`, "id-zeros")],
    expect: { kind: "refused", reason: /not after the last event id \d+$/ },
  }),
  entry({
    name: "id-extra-space",
    what: "`id:  7`: the second space is part of the id",
    bytes: (c) => [withId(` ${c.next()}`, "id-space")],
    expect: { kind: "refused", reason: NOT_DECIMAL(" \\d+") },
  }),
  entry({
    name: "id-unicode-digits",
    what: "an id of Arabic-Indic digits",
    bytes: () => [withId("\u0661\u0662\u0663", "id-arabic")],
    expect: { kind: "refused", reason: NOT_DECIMAL("\u0661\u0662\u0663") },
  }),
  entry({
    name: "id-missing",
    what: "a valid workspace with no id line",
    bytes: () => [lines([UPSERT, data(workspace("id-missing"))])],
    expect: { kind: "refused", reason: /^event "workspace\.upsert" carries no new id/ },
  }),
  entry({
    name: "id-no-carry-over",
    what: "an event with an id, then one without: WHATWG would carry the id over, the protocol does not",
    bytes: (c) => [
      lines([`id: ${c.next()}`, UPSERT, data(badWorkspace("carry-first"))]),
      lines([UPSERT, data(workspace("carry-second"))]),
    ],
    expect: { kind: "refused", count: 2, reason: /^event "workspace\.upsert" carries no new id/ },
  }),
  entry({
    name: "snapshot-without-id",
    what: "a snapshot with no id line",
    bytes: (c) => [lines(["event: snapshot", `data: ${JSON.stringify({ workspaces: c.listed })}`])],
    expect: { kind: "refused", reason: /^event "snapshot" carries no new id/ },
  }),
  entry({
    name: "snapshot-id-backwards",
    what: "a snapshot under id 1, far behind the last: it restarts the sequence",
    bytes: (c) => agentSnapshot(c, [], "1"),
    expect: {
      kind: "accepted",
      why: "a snapshot restarts the sequence; it lists the same generations, so nothing is written",
    },
  }),
];
