import assert from "node:assert/strict";
import { createPrivateKey, generateKeyPairSync } from "node:crypto";
import { test } from "node:test";
import {
  canonicalJson,
  keyIdOf,
  parsePublicKey,
  publicKeyText,
  signEventData,
  signedText,
  signText,
  verifyText,
} from "./signing.ts";

test("canonical JSON is RFC 8785's: members sorted by UTF-16 code units, numbers and strings as ECMAScript writes them", () => {
  // The RFC's own example (section 3.2.2 and 3.2.3).
  const input = JSON.parse(
    '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}',
  );
  assert.equal(
    canonicalJson(input),
    '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
  );
  // Sorting by code units: "\u20ac" (€) sorts after "\ud83d..." (an emoji's high surrogate) is false: 0x20ac < 0xd83d.
  assert.equal(canonicalJson({ "😀": 1, "€": 2, a: 3, B: 4 }), '{"B":4,"a":3,"€":2,"😀":1}');
  assert.equal(
    canonicalJson({ b: { d: [1, { f: 0, e: -0 }], c: "x" }, a: null }),
    '{"a":null,"b":{"c":"x","d":[1,{"e":0,"f":0}]}}',
  );
  assert.throws(() => canonicalJson({ n: Number.NaN }), /cannot hold the number NaN/);
});

test("a signature verifies over the same text only, and the key id is the key's", () => {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const s = signText(privateKey, "hello");
  assert.equal(s.keyId, keyIdOf(publicKey));
  assert.match(s.keyId, /^[0-9a-f]{16}$/);
  assert.ok(verifyText(publicKey, "hello", s.sig));
  assert.ok(!verifyText(publicKey, "hellO", s.sig));
  const flip = (c: string) => (c === "A" ? "B" : "A");
  assert.ok(
    !verifyText(publicKey, "hello", `${s.sig.slice(0, 40)}${flip(s.sig[40] ?? "")}${s.sig.slice(41)}`),
  );
  // The last character carries two bits of the signature and four unused ones: setting those is refused.
  const last = s.sig.at(-1) ?? "A";
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const sameBits = alphabet[alphabet.indexOf(last) ^ 1] ?? "A";
  assert.ok(!verifyText(publicKey, "hello", `${s.sig.slice(0, -1)}${sameBits}`), "a non-canonical encoding");
  assert.ok(!verifyText(publicKey, "hello", "not base64url!"));
  const other = generateKeyPairSync("ed25519").publicKey;
  assert.ok(!verifyText(other, "hello", s.sig));
});

test("public keys are read from PEM and from the base64 of their raw bytes; anything else is refused naming the forms", () => {
  const { publicKey } = generateKeyPairSync("ed25519");
  const pem = publicKey.export({ format: "pem", type: "spki" }).toString();
  const raw = publicKeyText(publicKey);
  assert.equal(Buffer.from(raw, "base64").length, 32);
  assert.equal(keyIdOf(parsePublicKey(pem)), keyIdOf(publicKey));
  assert.equal(keyIdOf(parsePublicKey(raw)), keyIdOf(publicKey));
  assert.equal(keyIdOf(parsePublicKey(Buffer.from(raw, "base64").toString("base64url"))), keyIdOf(publicKey));
  assert.throws(() => parsePublicKey("abc"), /Ed25519 public key in PEM or the base64 of its 32 raw bytes/);
  const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({
    format: "pem",
    type: "spki",
  });
  assert.throws(() => parsePublicKey(rsa.toString()), /must be Ed25519, not rsa/);
});

test("an event is signed over its stream, type, id and data; a snapshot item by item and its envelope", () => {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const at = { stream: "/v1/agents/a1/stream", type: "workspace.upsert", id: "7" };
  const data = { workspace: { id: "w", generation: 2 } };
  const signed = signEventData(privateKey, at, data);
  const sig = (signed.signature as { sig: string }).sig;
  assert.equal(
    signedText(at, data),
    '{"data":{"workspace":{"generation":2,"id":"w"}},"id":"7","stream":"/v1/agents/a1/stream","type":"workspace.upsert","v":1}',
  );
  assert.ok(verifyText(publicKey, signedText(at, data), sig));
  assert.ok(!verifyText(publicKey, signedText({ ...at, id: "8" }, data), sig));
  assert.ok(!verifyText(publicKey, signedText({ ...at, stream: "/v1/agents/a2/stream" }, data), sig));
  const snap = signEventData(
    privateKey,
    { ...at, type: "snapshot" },
    { workspaces: [{ id: "a" }, { id: "b" }] },
  );
  assert.equal((snap.signatures as unknown[]).length, 2);
  assert.ok(snap.signature);
});

test("the example of docs/protocol.md: seed 32 x 0x01, event 42 on agent-1's stream", () => {
  const seed = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), Buffer.alloc(32, 1)]);
  const key = createPrivateKey({ key: seed, format: "der", type: "pkcs8" });
  assert.equal(publicKeyText(key), "iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w=");
  assert.equal(keyIdOf(key), "34750f98bd59fcfc");
  const at = { stream: "/v1/agents/agent-1/stream", type: "workspace.upsert", id: "42" };
  const data = {
    workspace: {
      id: "team-a",
      generation: 2,
      quota: { cpu: "4", memory: "8Gi", pods: 50 },
      workspaceAgent: {},
    },
  };
  assert.equal(
    signedText(at, data),
    '{"data":{"workspace":{"generation":2,"id":"team-a","quota":{"cpu":"4","memory":"8Gi","pods":50},"workspaceAgent":{}}},"id":"42","stream":"/v1/agents/agent-1/stream","type":"workspace.upsert","v":1}',
  );
  assert.deepEqual(signEventData(key, at, data).signature, {
    keyId: "34750f98bd59fcfc",
    sig: "IaXiSByI7xr05GvHzs7e_vTkHewCA3vro9O5YQo62Am4ND7fkwxnn4cmFEG75vSWWIRgFcHmPybnKtLB-6YHAw",
  });
});
