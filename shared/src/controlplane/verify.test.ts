import assert from "node:assert/strict";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { test } from "node:test";
import { signEventData } from "@meridian/shared/protocol/signing";
import { EventVerifier, PinnedKeys, type Verdict } from "./verify.ts";

const STREAM = "/v1/agents/agent-1/stream";
const pair = () => generateKeyPairSync("ed25519");
const a = pair();
const b = pair();

function signed(key: KeyObject, type: string, id: string, data: Record<string, unknown>, stream = STREAM) {
  return signEventData(key, { stream, type, id }, data);
}
const upsert = (id: string, generation = 1, cpu = "1") => ({ workspace: { id, generation, quota: { cpu } } });
const refusal = (v: Verdict) => (v.ok ? undefined : v.refusal);

test("a validly signed event passes; unsigned, unknown key, tampered, moved to another stream or id are refused by name", () => {
  const v = new EventVerifier(new PinnedKeys([a.publicKey]), STREAM);
  assert.deepEqual(
    v.check("workspace.upsert", "10", signed(a.privateKey, "workspace.upsert", "10", upsert("w"))),
    {
      ok: true,
      items: [],
    },
  );
  const unsigned = refusal(v.check("workspace.upsert", "11", upsert("w", 2)));
  assert.equal(unsigned?.reason, "SignatureMissing");
  assert.equal(unsigned?.key, "w");
  assert.equal(unsigned?.generation, 2);
  assert.match(unsigned?.message ?? "", /^event "workspace.upsert" \(w\): unsigned/);
  const byB = refusal(
    v.check("workspace.upsert", "12", signed(b.privateKey, "workspace.upsert", "12", upsert("w"))),
  );
  assert.equal(byB?.reason, "UnknownSigningKey");
  assert.match(byB?.message ?? "", /which is not pinned \(pinned: [0-9a-f]{16}\)/);
  const e = signed(a.privateKey, "workspace.upsert", "13", upsert("w", 3));
  (e.workspace as { quota: { cpu: string } }).quota.cpu = "64";
  assert.equal(refusal(v.check("workspace.upsert", "13", e))?.reason, "SignatureInvalid");
  const extra = { ...signed(a.privateKey, "workspace.upsert", "14", upsert("w", 3)), injected: true };
  assert.equal(refusal(v.check("workspace.upsert", "14", extra))?.reason, "SignatureInvalid");
  const other = signed(a.privateKey, "workspace.upsert", "15", upsert("w", 3), "/v1/agents/agent-2/stream");
  assert.equal(refusal(v.check("workspace.upsert", "15", other))?.reason, "SignatureInvalid");
  const moved = signed(a.privateKey, "workspace.upsert", "16", upsert("w", 3));
  assert.equal(refusal(v.check("workspace.upsert", "17", moved))?.reason, "SignatureInvalid");
  const retyped = signed(a.privateKey, "workspace.upsert", "18", { id: "w" });
  assert.equal(refusal(v.check("workspace.delete", "18", retyped))?.reason, "SignatureInvalid");
  const garbled = { ...upsert("w"), signature: "x" };
  assert.equal(refusal(v.check("workspace.upsert", "19", garbled))?.reason, "SignatureInvalid");
  const infinite = JSON.parse('{"workspace":{"id":"w","generation":1e400}}');
  assert.match(refusal(v.check("workspace.upsert", "19", infinite))?.message ?? "", /no canonical form/);
});

test("a validly signed but older event is refused as a replay; a snapshot may repeat the newest id", () => {
  const v = new EventVerifier(new PinnedKeys([a.publicKey]), STREAM);
  const first = signed(a.privateKey, "workspace.upsert", "20", upsert("w", 2));
  assert.ok(v.check("workspace.upsert", "20", first).ok);
  const again = refusal(v.check("workspace.upsert", "20", first));
  assert.equal(again?.reason, "ReplayedEvent");
  assert.match(again?.message ?? "", /event 20 is validly signed but not newer than event 20/);
  const older = signed(a.privateKey, "workspace.delete", "5", { id: "w", generation: 1 });
  assert.equal(refusal(v.check("workspace.delete", "5", older))?.reason, "ReplayedEvent");
  const oldSnapshot = signed(a.privateKey, "snapshot", "3", { workspaces: [] });
  assert.equal(refusal(v.check("snapshot", "3", oldSnapshot))?.reason, "ReplayedEvent");
  const head = signed(a.privateKey, "snapshot", "20", { workspaces: [] });
  assert.ok(v.check("snapshot", "20", head).ok);
  assert.ok(
    v.check("workspace.upsert", "21", signed(a.privateKey, "workspace.upsert", "21", upsert("w", 3))).ok,
  );
  // A refused event does not move the newest: a forged id 999 cannot lock the stream out.
  assert.equal(refusal(v.check("workspace.upsert", "999", upsert("w", 4)))?.reason, "SignatureMissing");
  assert.ok(
    v.check("workspace.upsert", "22", signed(a.privateKey, "workspace.upsert", "22", upsert("w", 4))).ok,
  );
});

test("a snapshot's badly signed item is refused alone; a removed or reordered item breaks the envelope", () => {
  const v = new EventVerifier(new PinnedKeys([a.publicKey]), STREAM);
  const snap = () =>
    signed(a.privateKey, "snapshot", "30", {
      workspaces: [upsert("x").workspace, upsert("y").workspace, upsert("z").workspace],
    });
  const tampered = snap();
  (tampered.workspaces as { quota: { cpu: string } }[])[1]!.quota.cpu = "999";
  const verdict = v.check("snapshot", "30", tampered);
  assert.ok(verdict.ok);
  assert.deepEqual(
    verdict.items.map((r) => [r.reason, r.key, r.index]),
    [["SignatureInvalid", "y", 1]],
  );
  assert.match(verdict.items[0]?.message ?? "", /^workspaces\.1 \(y\): its signature by key/);
  const removed = snap();
  (removed.workspaces as unknown[]).splice(2, 1);
  (removed.signatures as unknown[]).splice(2, 1);
  assert.equal(
    refusal(new EventVerifier(new PinnedKeys([a.publicKey]), STREAM).check("snapshot", "30", removed))
      ?.reason,
    "SignatureInvalid",
  );
  const swapped = snap();
  (swapped.workspaces as unknown[]).reverse();
  (swapped.signatures as unknown[]).reverse();
  assert.equal(
    refusal(new EventVerifier(new PinnedKeys([a.publicKey]), STREAM).check("snapshot", "30", swapped))
      ?.reason,
    "SignatureInvalid",
  );
  const renamed = snap();
  (renamed.workspaces as { id: string }[])[0]!.id = "w";
  assert.equal(
    refusal(new EventVerifier(new PinnedKeys([a.publicKey]), STREAM).check("snapshot", "30", renamed))
      ?.reason,
    "SignatureInvalid",
  );
  // An item's own signature dropped or garbled: that item alone.
  const unsignedItem = snap();
  (unsignedItem.signatures as unknown[])[0] = null;
  (unsignedItem.signatures as { sig: string }[])[2]!.sig = "A".repeat(86);
  const v2 = new EventVerifier(new PinnedKeys([a.publicKey]), STREAM);
  const items = v2.check("snapshot", "30", unsignedItem);
  assert.ok(items.ok);
  assert.deepEqual(
    items.items.map((r) => [r.reason, r.key]),
    [
      ["SignatureMissing", "x"],
      ["SignatureInvalid", "z"],
    ],
  );
});

test("rotation: with two keys pinned events signed by either pass; once one is removed its events are refused", () => {
  const both = new EventVerifier(new PinnedKeys([a.publicKey, b.publicKey]), STREAM);
  assert.ok(
    both.check("workspace.upsert", "1", signed(a.privateKey, "workspace.upsert", "1", upsert("w"))).ok,
  );
  assert.ok(
    both.check("workspace.upsert", "2", signed(b.privateKey, "workspace.upsert", "2", upsert("w"))).ok,
  );
  const onlyB = new EventVerifier(new PinnedKeys([b.publicKey]), STREAM);
  assert.equal(
    refusal(onlyB.check("workspace.upsert", "3", signed(a.privateKey, "workspace.upsert", "3", upsert("w"))))
      ?.reason,
    "UnknownSigningKey",
  );
  assert.throws(() => new EventVerifier(new PinnedKeys([]), STREAM), /at least one pinned key/);
});

test("a newer control-plane epoch starts the ids again; an older epoch is a replay", () => {
  const v = new EventVerifier(new PinnedKeys([a.publicKey]), STREAM);
  const e1 = (id: string, epoch: number) =>
    signed(a.privateKey, "snapshot", id, { workspaces: [{ id: "w", generation: 1, epoch }] });
  assert.ok(v.check("snapshot", "50", e1("50", 100)).ok);
  // A control plane that lost its data: a new epoch, a low id; its empty snapshot names the epoch too.
  assert.ok(
    v.check("snapshot", "2", signed(a.privateKey, "snapshot", "2", { workspaces: [], epoch: 200 })).ok,
  );
  assert.ok(v.check("workspace.upsert", "3", signed(a.privateKey, "workspace.upsert", "3", upsert("w"))).ok);
  const old = refusal(v.check("snapshot", "60", e1("60", 100)));
  assert.equal(old?.reason, "ReplayedEvent");
  assert.match(old?.message ?? "", /from control-plane epoch 100, older than epoch 200/);
  // An empty snapshot naming no epoch, older than the newest: nothing is taken from it.
  assert.equal(
    refusal(v.check("snapshot", "1", signed(a.privateKey, "snapshot", "1", { workspaces: [] })))?.reason,
    "ReplayedEvent",
  );
});
