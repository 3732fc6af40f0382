// Property-based fuzzing of the stream client's event-id policy, through a real HTTP server on
// loopback: for any sequence of events with id games (none, repeats, backwards, gaps, junk, huge),
// valid and invalid payloads, cut into chunks anywhere, the client hands on or refuses each event
// exactly as the policy in stream.ts says, every refusal names its event's type and gives a reason,
// `lastEventId` and `rejectedEvents` follow, and the redial carries that id as Last-Event-ID.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { workspaceEvents } from "@meridian/shared/protocol/index";
import fc from "fast-check";
import { fuzzParams } from "../fuzz.testutil.ts";
import { deploymentSpecInput } from "../protocol/deployment-spec.testutil.ts";
import { type FakeServer, sseHead, startFakeServer, until } from "./fake-server.testutil.ts";
import type { Endpoint } from "./http.ts";
import { chunksAt } from "./sse-reference.testutil.ts";
import { StreamClient } from "./stream.ts";

const dep = (name: string) => deploymentSpecInput({ name });

const TYPES = ["snapshot", "deployment.upsert", "deployment.delete", "workspace.upsert", "message"] as const;
type Type = (typeof TYPES)[number];

/** A payload that passes its type's schema, or one of the ways not to. */
function payload(type: Type, kind: "valid" | "not json" | "invalid" | "deep"): string {
  if (kind === "not json") return '{"deployment": ';
  if (kind === "invalid")
    return JSON.stringify({ deployment: { name: "Bad_Name" }, name: 7, workspaceId: "" });
  if (kind === "deep") return `${"[".repeat(40)}${"]".repeat(40)}`;
  if (type === "snapshot") return JSON.stringify({ workspaceId: "w1", deployments: [dep("a"), dep("b")] });
  if (type === "deployment.delete") return JSON.stringify({ name: "a" });
  return JSON.stringify({ deployment: dep("c") });
}

/** How an event's id relates to what came before: the id game under test. */
type IdPlan =
  | { kind: "none" }
  | { kind: "next"; gap: number }
  | { kind: "repeat" }
  | { kind: "back"; by: number }
  | { kind: "literal"; id: string };

const idPlan: fc.Arbitrary<IdPlan> = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 3 }).map((gap) => ({ kind: "next" as const, gap })) },
  { weight: 1, arbitrary: fc.constant({ kind: "none" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "repeat" as const }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 5 }).map((by) => ({ kind: "back" as const, by })) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(
        "",
        "abc",
        "-1",
        "1e3",
        " 5",
        "0x10",
        "１２",
        "9".repeat(41),
        "9".repeat(40),
        "007",
        "7\0",
      )
      .map((id) => ({ kind: "literal" as const, id })),
  },
);

interface Planned {
  type: Type;
  id: IdPlan;
  data: "valid" | "not json" | "invalid" | "deep";
  eol: string;
}

const script: fc.Arbitrary<Planned[]> = fc.array(
  fc.record({
    type: fc.constantFrom(...TYPES),
    id: idPlan,
    data: fc.constantFrom("valid", "valid", "valid", "not json", "invalid", "deep"),
    eol: fc.constantFrom("\n", "\r\n", "\r"),
  }),
  { maxLength: 25 },
);

interface Sent {
  type: Type;
  /** The id the event carries, or undefined for none (an `id:` line with NUL counts as none). */
  id: string | undefined;
  text: string;
  valid: boolean;
}

/** Renders the script: ids from a running counter, each event with its own line breaks. */
function render(events: Planned[]): Sent[] {
  let counter = 10;
  return events.map((e) => {
    let id: string | undefined;
    if (e.id.kind === "next") {
      counter += e.id.gap;
      id = String(counter);
    } else if (e.id.kind === "repeat") id = String(counter);
    else if (e.id.kind === "back") id = String(Math.max(0, counter - e.id.by));
    else if (e.id.kind === "literal") id = e.id.id;
    const data = payload(e.type, e.data);
    const lines = [`event: ${e.type}`, `data: ${data}`];
    if (id !== undefined) lines.unshift(`id: ${id}`);
    const valid = e.data === "valid" && e.type !== "workspace.upsert" && e.type !== "message";
    return {
      type: e.type,
      id: id?.includes("\0") ? undefined : id,
      text: lines.map((l) => l + e.eol).join("") + e.eol,
      valid,
    };
  });
}

type Outcome = { kind: "snapshot" | "event" | "rejected"; id: string | undefined };

/** The documented policy (StreamClient's class comment), written out once more as a model. */
function model(sent: Sent[]): { outcomes: Outcome[]; last: string | undefined } {
  let last: string | undefined;
  const outcomes: Outcome[] = [];
  for (const e of sent) {
    const id = e.id;
    const wellFormed = id !== undefined && /^\d{1,40}$/.test(id);
    const after =
      e.type === "snapshot" || last === undefined || (wellFormed && BigInt(id) > BigInt(last as string));
    if (!wellFormed || !after) {
      outcomes.push({ kind: "rejected", id });
      continue;
    }
    last = id;
    if (!e.valid) outcomes.push({ kind: "rejected", id });
    else outcomes.push({ kind: e.type === "snapshot" ? "snapshot" : "event", id });
  }
  return { outcomes, last };
}

let srv: FakeServer;
let endpoint: Endpoint;
/** What the current run's server answers on its first request; later ones stay open and empty. */
let current: { chunks: Uint8Array[]; lastEventIds: (string | undefined)[] } = {
  chunks: [],
  lastEventIds: [],
};

before(async () => {
  srv = await startFakeServer();
  endpoint = srv.endpoint();
  srv.handle(async (req, res) => {
    const run = current;
    const header = req.headers["last-event-id"];
    run.lastEventIds.push(typeof header === "string" ? header : undefined);
    sseHead(res);
    if (run.lastEventIds.length > 1) return;
    res.socket?.setNoDelay(true);
    for (const c of run.chunks) {
      if (c.length > 0) res.write(c);
      await new Promise((r) => setImmediate(r));
    }
    res.end();
  });
});
after(() => srv.close());

test("any sequence of ids and payloads, cut anywhere, is handed on or refused exactly by the id policy", async () => {
  await fc.assert(
    fc.asyncProperty(script, fc.array(fc.nat(), { maxLength: 12 }), async (events, cuts) => {
      const sent = render(events);
      const bytes = Buffer.from(sent.map((e) => e.text).join(""));
      current = {
        chunks: chunksAt(
          bytes,
          cuts.map((c) => c % (bytes.length + 1)),
        ),
        lastEventIds: [],
      };
      const client = new StreamClient({
        endpoint,
        path: "/v1/workspaces/w1/stream",
        events: workspaceEvents,
        backoff: { baseMs: 2, capMs: 5, floorMs: 1 },
      });
      const got: Outcome[] = [];
      const reasons: { type: string; error: string }[] = [];
      client.on("snapshot", ({ event }) => got.push({ kind: "snapshot", id: event.id }));
      client.on("event", ({ event }) => got.push({ kind: "event", id: event.id }));
      client.on("rejected", ({ type, id, error }) => {
        got.push({ kind: "rejected", id });
        reasons.push({ type, error });
      });
      try {
        client.start();
        // The server ends the stream after the script; the client redials with its Last-Event-ID.
        await until(() => current.lastEventIds.length >= 2, 5000, "the redial");
      } finally {
        await client.stop();
      }
      const want = model(sent);
      assert.deepEqual(got, want.outcomes);
      assert.equal(client.lastEventId, want.last);
      assert.equal(current.lastEventIds[0], undefined, "the first dial asks for a snapshot");
      assert.equal(current.lastEventIds[1], want.last, "the redial resumes from the last event id");
      assert.equal(client.rejectedEvents.count, reasons.length);
      for (const r of reasons) {
        assert.ok(r.error.includes(`"${r.type}"`), `the reason names the event type: ${r.error}`);
        assert.ok(r.error.length > r.type.length + 10, `a reason says why: ${r.error}`);
      }
    }),
    fuzzParams(100),
  );
});
