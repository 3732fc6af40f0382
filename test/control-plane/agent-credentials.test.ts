// Agent credentials that expire, at the reference control plane (docs/protocol.md#authentication): an
// install token is exchanged once and is useless after; a credential is renewed with itself, stops at
// its expiry, and everything of an agent stops at once when it is revoked (open streams included);
// a long-lived token of the release before keeps working, and is refused for exchange with 403.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { agentCredential, errorBody, paths, workspaceCredential } from "@meridian/shared/protocol/index";
import { call, SseReader, sleep, startTestServer, type TestServer, WORKSPACE } from "./test-support.ts";

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.cleanup());

async function expectError(res: Response, status: number, message: RegExp): Promise<void> {
  assert.equal(res.status, status, await res.clone().text());
  assert.match(errorBody.parse(await res.json()).error.message, message);
}

const exchange = (agentId: string, token: string) =>
  call(server.cp, "POST", paths.agentCredentialExchange(agentId), { token });
const refresh = (agentId: string, token: string) =>
  call(server.cp, "POST", paths.agentCredentialRefresh(agentId), { token });

async function credentialOf(res: Response) {
  assert.equal(res.status, 200, await res.clone().text());
  return agentCredential.parse(await res.json());
}

test("an install token is exchanged once for a credential; a second use is refused with 401", async () => {
  const issued = await server.cp.admin.createInstallToken("agent-x", {
    ttlSeconds: 60,
    credentialTtlSeconds: 30,
  });
  assert.ok(Date.parse(issued.expiresAt) - Date.now() <= 60_000);
  const cred = await credentialOf(await exchange("agent-x", issued.installToken));
  assert.equal(cred.agentId, "agent-x");
  const lifetime = Date.parse(cred.expiresAt) - Date.now();
  assert.ok(lifetime > 25_000 && lifetime <= 30_000, `lifetime ${lifetime} ms`);
  // The credential opens the agent's endpoints; the install token opens nothing, not even twice.
  const stream = await SseReader.open(server.cp, paths.agentStream("agent-x"), cred.token);
  assert.equal((await stream.next()).event, "snapshot");
  stream.close();
  await expectError(
    await exchange("agent-x", issued.installToken),
    401,
    /already used or expired install token/,
  );
  await expectError(
    await call(server.cp, "GET", paths.agentStream("agent-x"), { token: issued.installToken }),
    401,
    /unknown or revoked token/,
  );
});

test("an install token of another agent, an expired one, or a credential cannot be exchanged", async () => {
  const other = await server.cp.admin.createInstallToken("agent-o");
  await expectError(await exchange("agent-p", other.installToken), 403, /belongs to another agent/);
  // Not used up by the refusal: its own agent still exchanges it.
  const cred = await credentialOf(await exchange("agent-o", other.installToken));
  await expectError(await exchange("agent-o", cred.token), 403, /only an install token is exchanged/);
  const short = await server.cp.admin.createInstallToken("agent-e", { ttlSeconds: 1 });
  await sleep(1100);
  await expectError(await exchange("agent-e", short.installToken), 401, /expired install token/);
  // A new install token replaces an unused earlier one.
  const first = await server.cp.admin.createInstallToken("agent-r");
  const second = await server.cp.admin.createInstallToken("agent-r");
  await expectError(await exchange("agent-r", first.installToken), 401, /already used or expired/);
  await credentialOf(await exchange("agent-r", second.installToken));
});

test("a credential is renewed with itself; the old one works until its own expiry, then 401", async () => {
  const issued = await server.cp.admin.createInstallToken("agent-f", { credentialTtlSeconds: 10 });
  const first = await credentialOf(await exchange("agent-f", issued.installToken));
  const second = await credentialOf(await refresh("agent-f", first.token));
  assert.notEqual(second.token, first.token);
  assert.ok(Date.parse(second.expiresAt) >= Date.parse(first.expiresAt));
  await expectError(await refresh("agent-g", second.token), 403, /belongs to another agent/);
  const status = (t: string) => call(server.cp, "GET", paths.agentStream("agent-f"), { token: t });
  const open = await status(first.token);
  assert.equal(open.status, 200);
  await open.body?.cancel();
  await sleep(Date.parse(first.expiresAt) - Date.now() + 50);
  await expectError(await status(first.token), 401, /agent credential expired at/);
  await expectError(await refresh("agent-f", first.token), 401, /expired agent credential/);
});

test("revoking an agent cuts its credential, its workspaces' credentials and its open streams at once", async () => {
  const issued = await server.cp.admin.createInstallToken("agent-v");
  await server.cp.admin.putWorkspace("agent-v", "ws-v", WORKSPACE);
  const cred = await credentialOf(await exchange("agent-v", issued.installToken));
  const wsRes = await call(server.cp, "POST", paths.workspaceCredential("agent-v", "ws-v"), {
    token: cred.token,
  });
  const ws = workspaceCredential.parse(await wsRes.json());
  const agentStream = await SseReader.open(server.cp, paths.agentStream("agent-v"), cred.token);
  const wsStream = await SseReader.open(server.cp, paths.workspaceStream("ws-v"), ws.token);
  const spare = await server.cp.admin.createInstallToken("agent-v");
  const result = await server.cp.admin.revokeAgent("agent-v");
  assert.deepEqual(result.revoked, { installTokens: 1, agentCredentials: 1, workspaceCredentials: 1 });
  assert.equal(result.streamsClosed, 2);
  await Promise.all([agentStream.ended, wsStream.ended]);
  await expectError(await refresh("agent-v", cred.token), 401, /revoked or expired/);
  await expectError(await exchange("agent-v", spare.installToken), 401, /already used or expired/);
  await expectError(
    await call(server.cp, "POST", paths.workspaceCredentialRefresh("ws-v"), { token: ws.token }),
    401,
    /unknown or revoked/,
  );
  // A new install token brings the agent back.
  const back = await server.cp.admin.createInstallToken("agent-v");
  await credentialOf(await exchange("agent-v", back.installToken));
});

test("a long-lived token (deprecated) still opens the agent's endpoints and is refused for exchange with 403", async () => {
  const { token } = await server.cp.admin.createAgent("agent-l");
  const res = await call(server.cp, "GET", paths.agentStream("agent-l"), { token });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  await expectError(await exchange("agent-l", token), 403, /long-lived agent token, which is not exchanged/);
  await expectError(await refresh("agent-l", token), 403, /long-lived agent token is not renewed/);
});
