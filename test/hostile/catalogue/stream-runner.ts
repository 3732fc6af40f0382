// Sends stream inputs of the catalogue, one after the other, down one open stream to a real agent
// (or workspace agent) and checks each: the expected refusal in the status upward and in a log line
// (or, for framing that is no event, nothing at all), then a fence event that proves the input was
// fully processed and nothing else was refused, the stream still open, the agent healthy, no object
// in the cluster changed, and Object.prototype untouched.
import assert from "node:assert/strict";
import type { KubeClient } from "@meridian/shared/kube/client";
import type { Condition, RejectedEvents } from "@meridian/shared/protocol/index";
import { waitFor } from "../../agent/harness.ts";
import { diff, type Inventory, inventory } from "../inventory.ts";
import type { HostileServer } from "../server.ts";
import type { StreamContext, StreamExpectation, StreamInput } from "./types.ts";

/** What both agents' status bodies share, and the per-item entries (workspaces or deployments). */
export interface ReportedStatus {
  lastEventId?: string;
  rejectedEvents: RejectedEvents;
  items: { key: string; phase: string; conditions: Condition[] }[];
}

export interface StreamTarget {
  hostile: HostileServer;
  admin: KubeClient;
  /** JSON log lines of the agent under test. */
  logs: string[];
  healthUrl: string;
  /** The latest status the agent posted, in the common shape. */
  status(): ReportedStatus | undefined;
  /** The message of the agent's log line for a refused event. */
  rejectedMsg: RegExp;
  /** Resolves when the agent has nothing queued or running. */
  idle(): Promise<void>;
  /** See StreamContext.listed. */
  listed(): unknown[];
  workspaceId?: string;
}

interface Line {
  msg?: string;
  reason?: string;
  workspace?: string;
  deployment?: string;
}

let fences = 0;

/** Sends `input` and checks it (see the file comment); `baseline` is the inventory it must leave as is. */
export async function runStreamInput(
  t: StreamTarget,
  input: StreamInput,
  baseline: Inventory,
): Promise<void> {
  const label = `${input.class}/${input.name}`;
  const s0 = t.status();
  assert.ok(s0, `${label}: the agent has posted a status`);
  const count0 = s0.rejectedEvents.count;
  const dials0 = streamRequests(t.hostile);
  const logs0 = t.logs.length;
  const stream = await t.hostile.nextStream({ existing: true });
  let n = BigInt(s0.lastEventId ?? "0");
  const ctx: StreamContext = {
    next: () => (++n).toString(),
    last: s0.lastEventId ?? "0",
    listed: t.listed(),
    workspaceId: t.workspaceId,
  };
  await stream.send(...input.bytes(ctx));
  const refusals = await expectOutcome(t, label, input.expect, count0, logs0);

  // The fence: an event of an unknown type and no id, refused without moving the last event id. Once
  // the status shows it, everything sent before it has been processed.
  const fence = `fence.${++fences}`;
  await stream.send(`event: ${fence}\ndata: {}\n\n`);
  const after = await waitFor(`${label}: the fence after it`, () => {
    const s = t.status();
    return s?.rejectedEvents.last?.eventType === fence ? s : undefined;
  });
  assert.equal(after.rejectedEvents.count, count0 + refusals + 1, `${label}: exactly ${refusals} refusal(s)`);
  if (!input.redial) assert.equal(streamRequests(t.hostile), dials0, `${label}: the stream stayed open`);
  await t.idle();
  assert.deepEqual(
    diff(baseline, await inventory(t.admin)),
    { added: [], removed: [], changed: [] },
    `${label}: nothing in the cluster changed`,
  );
  assert.equal((await fetch(`${t.healthUrl}/healthz`)).status, 200, `${label}: /healthz`);
  assert.deepEqual(Object.keys(Object.prototype), [], `${label}: Object.prototype untouched`);
}

/** Waits for what `expect` says; returns how many refusals rejectedEvents must have counted. */
async function expectOutcome(
  t: StreamTarget,
  label: string,
  expect: StreamExpectation,
  count0: number,
  logs0: number,
): Promise<number> {
  const lines = () => t.logs.slice(logs0).map((l) => JSON.parse(l) as Line);
  const logged = (msg: RegExp, match: (l: Line) => boolean) =>
    waitFor(`${label}: a log line ${msg}`, () => lines().find((l) => msg.test(l.msg ?? "") && match(l)));
  const item = (key: string, ok: (i: ReportedStatus["items"][number]) => boolean) =>
    waitFor(`${label}: the status of ${key}`, () => t.status()?.items.find((i) => i.key === key && ok(i)));
  const condition = (i: ReportedStatus["items"][number], type: string) =>
    i.conditions.find((c) => c.type === type);
  switch (expect.kind) {
    case "refused": {
      const n = expect.count ?? 1;
      const s = await waitFor(`${label}: ${n} refusal(s) in the status`, () => {
        const st = t.status();
        return st && st.rejectedEvents.count >= count0 + n ? st : undefined;
      });
      const error = s.rejectedEvents.last?.error ?? "";
      assert.equal(s.rejectedEvents.count, count0 + n, `${label}: refusals counted`);
      assert.match(error, expect.reason, `${label}: the reason reported upward`);
      await logged(t.rejectedMsg, (l) => l.reason === error);
      if (expect.item) {
        const it = await item(expect.item, (i) => condition(i, "SpecRejected")?.status === "True");
        assert.match(condition(it, "SpecRejected")?.message ?? "", expect.reason, `${label}: SpecRejected`);
      }
      return n;
    }
    case "policy": {
      const it = await item(expect.workspace, (i) => i.phase === "Refused");
      assert.match(
        condition(it, "PolicyViolation")?.message ?? "",
        expect.reason,
        `${label}: PolicyViolation`,
      );
      await logged(
        /^workspace refused by the local policy/,
        (l) => l.workspace === expect.workspace && expect.reason.test(l.reason ?? ""),
      );
      return 0;
    }
    case "conflict": {
      const it = await item(expect.workspace, (i) => i.phase === "Refused");
      assert.match(
        condition(it, "OwnershipConflict")?.message ?? "",
        expect.reason,
        `${label}: OwnershipConflict`,
      );
      await logged(/^workspace refused: an object it needs exists/, (l) => l.workspace === expect.workspace);
      return 0;
    }
    case "left-alone":
      await logged(
        /its namespace is not Meridian's and was left alone/,
        (l) => l.workspace === expect.workspace && expect.reason.test(l.reason ?? ""),
      );
      return 0;
    case "spec-refused": {
      const it = await item(expect.deployment, (i) => i.phase === "Refused");
      const aligned = condition(it, "SpecAligned");
      assert.equal(aligned?.reason, "SpecRefused", `${label}: SpecAligned`);
      assert.match(aligned?.message ?? "", expect.reason, `${label}: the reason reported upward`);
      await logged(/^spec refused by the local policy/, (l) => l.deployment === expect.deployment);
      return 0;
    }
    case "ignored":
    case "accepted":
      return 0;
  }
}

const streamRequests = (h: HostileServer) =>
  h.requests.filter((r) => r.method === "GET" && r.path.endsWith("/stream")).length;
