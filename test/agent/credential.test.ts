// The agent's control-plane credential against the reference control plane: the install token is
// exchanged on first use and kept (a second agent process, or a new leader, continues with the stored
// credential, since the install token is used up); the credential is renewed once a third of its
// lifetime remains and kept in use while the control plane cannot be reached; a revoked agent is told
// what to do and asks again only after a long back-off; a long-lived token still works with one
// deprecation warning. No token ever reaches the log.
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { after, before, test } from "node:test";
import { StaticTokenSource } from "@meridian/shared/controlplane/credentials";
import { createDispatcher } from "@meridian/shared/controlplane/http";
import { createLogger } from "@meridian/shared/log";
import { paths } from "@meridian/shared/protocol/index";
import { AgentCredentialSource } from "../../agent/src/control-plane-credential.ts";
import type { CredentialStore, StoredAgentCredential } from "../../agent/src/credential-secret.ts";
import { call, startTestServer, type TestServer } from "../control-plane/test-support.ts";

let server: TestServer;
const dispatcher = createDispatcher();
let logText = "";
const out = new PassThrough();
out.on("data", (c: Buffer) => {
  logText += c.toString("utf8");
});
const logger = createLogger({ component: "meridian-agent", destination: out, level: "debug" });

before(async () => {
  server = await startTestServer();
});
after(async () => {
  await dispatcher.close();
  await server.cleanup();
});

class MemoryStore implements CredentialStore {
  readonly where = "test/memory";
  saved: StoredAgentCredential | undefined;
  saves = 0;
  async load() {
    return this.saved;
  }
  async save(c: StoredAgentCredential) {
    this.saved = c;
    this.saves++;
  }
}

function source(agentId: string, installed: string, store: CredentialStore | undefined, now = Date.now) {
  return new AgentCredentialSource({
    endpoint: { baseUrl: server.cp.url, dispatcher },
    agentId,
    installed: new StaticTokenSource(installed),
    store,
    logger,
    now,
  });
}

/** What the control plane says of a bearer token on the agent's status endpoint (204: accepted). */
async function accepted(agentId: string, token: string): Promise<number> {
  const res = await call(server.cp, "GET", paths.agentStream(agentId), { token });
  await res.body?.cancel();
  return res.status;
}

test("the install token is exchanged once; the next process continues with the stored credential", async () => {
  const { installToken } = await server.cp.admin.createInstallToken("agent-1");
  const store = new MemoryStore();
  const first = source("agent-1", installToken, store);
  const token = await first.token();
  assert.notEqual(token, installToken);
  assert.equal(store.saved?.token, token);
  assert.equal(await accepted("agent-1", token), 200);
  assert.equal(await first.token(), token, "a fresh credential is reused, not renewed");
  // A restart (or a standby that became leader): the install token is used up, the stored credential serves.
  const second = source("agent-1", installToken, store);
  assert.equal(await second.token(), token);
  assert.equal(store.saves, 1);
  assert.match(logText, /the install token was exchanged for a short-lived control-plane credential/);
});

test("renewed once a third of the lifetime remains; kept while the control plane is unreachable", async () => {
  const { installToken } = await server.cp.admin.createInstallToken("agent-2", { credentialTtlSeconds: 300 });
  const store = new MemoryStore();
  let skew = 0;
  const s = source("agent-2", installToken, store, () => Date.now() + skew);
  const first = await s.token();
  skew = 201_000; // past two thirds of 300 s (the control plane's clock still says it is valid)
  const second = await s.token();
  assert.notEqual(second, first);
  assert.equal(store.saved?.token, second);
  assert.equal(await accepted("agent-2", first), 200, "the old credential works until its own expiry");
  // Unreachable: the credential in hand stays in use.
  const offline = new AgentCredentialSource({
    endpoint: { baseUrl: "http://127.0.0.1:1", dispatcher },
    agentId: "agent-2",
    installed: new StaticTokenSource(installToken),
    store,
    logger,
    // Past its refresh point (two thirds of the lifetime as this clock saw it) but before its expiry.
    now: () => Date.now() + 280_000,
  });
  assert.equal(await offline.token(), second);
  assert.match(logText, /cannot renew the agent's control-plane credential yet/);
});

test("a revoked agent is refused with what to do, and does not ask again at once", async () => {
  const { installToken } = await server.cp.admin.createInstallToken("agent-3");
  await server.cp.admin.putWorkspace("agent-3", "ws-3", { quota: { cpu: "1", memory: "1Gi" } });
  const store = new MemoryStore();
  const s = source("agent-3", installToken, store);
  const token = await s.token();
  await server.cp.admin.revokeAgent("agent-3");
  assert.equal(await accepted("agent-3", token), 401);
  await assert.rejects(
    s.refresh(),
    /refused the agent's install token .*ask the vendor for a new install token/,
  );
  const before = store.saves;
  await assert.rejects(s.token(), /ask the vendor for a new install token/);
  assert.equal(store.saves, before);
  // A new install token (and a restart) brings it back.
  const again = await server.cp.admin.createInstallToken("agent-3");
  const back = source("agent-3", again.installToken, new MemoryStore());
  assert.equal(await accepted("agent-3", await back.token()), 200);
});

test("a long-lived token still works, with one deprecation warning; without a store it is used as it is", async () => {
  const { token } = await server.cp.admin.createAgent("agent-4");
  const s = source("agent-4", token, new MemoryStore());
  const warnings = () => (logText.match(/is a long-lived token \(deprecated/g) ?? []).length;
  const before = warnings();
  assert.equal(await s.token(), token);
  assert.equal(await s.token(), token);
  await s.refresh();
  assert.equal(s.longLived, true);
  assert.equal(warnings(), before + 1);
  assert.equal(await source("agent-4", token, undefined).token(), token);
});

test("no token of these runs is in the log", async () => {
  for (const t of logText.match(/mra_[A-Za-z0-9_-]{20,}/g) ?? [])
    assert.fail(`a token in the log: ${t.slice(0, 8)}…`);
});
