// The reference control plane signs every event it writes, with the key it was given (the fixed test
// key by default): the snapshot item by item, deltas, replays after Last-Event-ID; a key changed at
// run time signs what is written from then on; `signingKey: null` sends events unsigned.
import assert from "node:assert/strict";
import { test } from "node:test";
import { EventVerifier, PinnedKeys } from "@meridian/shared/controlplane/verify";
import { paths } from "@meridian/shared/protocol/index";
import { parsePublicKey } from "@meridian/shared/protocol/signing";
import { TEST_SIGNING_PUBLIC_KEY, testSigningKey } from "./signing.ts";
import { agentWithWorkspace, SseReader, startTestServer, WORKSPACE } from "./test-support.ts";

const verifierFor = (key: string, agentId: string) =>
  new EventVerifier(new PinnedKeys([parsePublicKey(key)]), paths.agentStream(agentId));
const check = (v: EventVerifier, m: { event: string; id: string | undefined; data: string }) =>
  v.check(m.event, m.id ?? "", JSON.parse(m.data));

test("every event is signed: snapshot, deltas and a replay verify with the test key; a new key signs from then on", async (t) => {
  const server = await startTestServer({ keepAliveMs: 1000 });
  t.after(() => server.cleanup());
  const { cp } = server;
  assert.equal(cp.signingPublicKey, TEST_SIGNING_PUBLIC_KEY);
  const token = await agentWithWorkspace(cp, "agent-sig", "sig-a");
  await cp.admin.putWorkspace("agent-sig", "sig-b", WORKSPACE);
  const v = verifierFor(TEST_SIGNING_PUBLIC_KEY, "agent-sig");
  const stream = await SseReader.open(cp, paths.agentStream("agent-sig"), token);
  let last: string | undefined;
  try {
    const snap = await stream.next();
    assert.deepEqual(check(v, snap), { ok: true, items: [] });
    assert.equal(JSON.parse(snap.data).signatures.length, 2);
    await cp.admin.putWorkspace("agent-sig", "sig-c", WORKSPACE);
    const up = await stream.next();
    assert.deepEqual(check(v, up), { ok: true, items: [] });
    const rotated = testSigningKey(9);
    cp.useSigningKey(rotated);
    await cp.admin.deleteWorkspace("agent-sig", "sig-c");
    const del = await stream.next();
    assert.equal(del.event, "workspace.delete");
    const refused = check(v, del);
    assert.equal(refused.ok ? undefined : refused.refusal.reason, "UnknownSigningKey");
    const byNew = verifierFor(cp.signingPublicKey as string, "agent-sig");
    assert.ok(check(byNew, del).ok);
    cp.useSigningKey(testSigningKey(1));
    last = up.id;
  } finally {
    stream.close();
  }
  // A resume replays the delete, signed again (by the key of now) under its original id.
  const resumed = await SseReader.open(cp, paths.agentStream("agent-sig"), token, last);
  try {
    const replayed = await resumed.next();
    assert.equal(replayed.event, "workspace.delete");
    assert.ok(check(verifierFor(TEST_SIGNING_PUBLIC_KEY, "agent-sig"), replayed).ok);
  } finally {
    resumed.close();
  }
});

test("signingKey null: events go out unsigned", async (t) => {
  const server = await startTestServer({ signingKey: null });
  t.after(() => server.cleanup());
  const token = await agentWithWorkspace(server.cp, "agent-plain", "plain-a");
  const stream = await SseReader.open(server.cp, paths.agentStream("agent-plain"), token);
  try {
    assert.doesNotMatch((await stream.next()).data, /signature/);
  } finally {
    stream.close();
  }
});
