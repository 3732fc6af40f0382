// Authentication and authorization of protocol v1: bearer tokens, workspace credentials scoped to
// one workspace and expiring, the protocol version header, and the shape of every error.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { errorBody, PROTOCOL_HEADER, paths, workspaceCredential } from "@meridian/shared/protocol/index";
import {
  agentWithWorkspace,
  call,
  SseReader,
  sleep,
  startTestServer,
  type TestServer,
} from "./test-support.ts";

let server: TestServer;
let agentToken: string;
let otherAgentToken: string;
before(async () => {
  server = await startTestServer({ workspaceTokenTtlSeconds: 1 });
  agentToken = await agentWithWorkspace(server.cp, "agent-a", "ws-a");
  await server.cp.admin.putWorkspace("agent-a", "ws-b", { quota: { cpu: "1", memory: "1Gi" } });
  otherAgentToken = await agentWithWorkspace(server.cp, "agent-z", "ws-z");
});
after(() => server.cleanup());

async function expectError(res: Response, status: number, code: string, message?: RegExp): Promise<string> {
  assert.equal(res.status, status);
  assert.equal(res.headers.get(PROTOCOL_HEADER), "1");
  const body = errorBody.parse(await res.json());
  assert.equal(body.error.code, code);
  if (message) assert.match(body.error.message, message);
  return body.error.message;
}

async function credential(workspaceId: string, token = agentToken, agentId = "agent-a") {
  const res = await call(server.cp, "POST", paths.workspaceCredential(agentId, workspaceId), { token });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get(PROTOCOL_HEADER), "1");
  return workspaceCredential.parse(await res.json());
}

test("no token, an unknown token, a malformed header: 401 unauthorized", async () => {
  const { cp } = server;
  const none = await call(cp, "GET", paths.agentStream("agent-a"));
  assert.match(none.headers.get("www-authenticate") ?? "", /^Bearer/);
  await expectError(none, 401, "unauthorized", /missing bearer token/);
  await expectError(
    await call(cp, "GET", paths.agentStream("agent-a"), { token: "mra_nope" }),
    401,
    "unauthorized",
  );
  await expectError(
    await call(cp, "GET", paths.agentStream("agent-a"), {
      headers: { authorization: `Basic ${agentToken}` },
    }),
    401,
    "unauthorized",
  );
});

test("a request with another protocol version, or none, gets 400 protocol_version_unsupported", async () => {
  const { cp } = server;
  const v2 = await call(cp, "GET", paths.agentStream("agent-a"), {
    token: agentToken,
    headers: { [PROTOCOL_HEADER]: "2" },
  });
  const msg = await expectError(v2, 400, "protocol_version_unsupported");
  assert.match(
    msg,
    /^this control plane speaks protocol version 1; the client sent version "2"\. Upgrade the agent/,
  );

  const none = await fetch(cp.url + paths.agentStatus("agent-a"), {
    method: "POST",
    headers: { authorization: `Bearer ${agentToken}` },
    body: "{}",
  });
  await expectError(none, 400, "protocol_version_unsupported", /sent no meridian-protocol-version header/);
});

test("a workspace credential opens its own workspace only; 403 elsewhere", async () => {
  const { cp } = server;
  const a = await credential("ws-a");
  assert.equal(a.workspaceId, "ws-a");
  assert.ok(Date.parse(a.expiresAt) > Date.now());
  const s = await SseReader.open(cp, paths.workspaceStream("ws-a"), a.token);
  assert.equal((await s.next()).event, "snapshot");
  s.close();

  await expectError(
    await call(cp, "GET", paths.workspaceStream("ws-b"), { token: a.token }),
    403,
    "forbidden",
    /another workspace/,
  );
  await expectError(
    await call(cp, "POST", paths.workspaceStatus("ws-b"), { token: a.token, body: {} }),
    403,
    "forbidden",
  );
  await expectError(
    await call(cp, "POST", paths.workspaceCredentialRefresh("ws-b"), { token: a.token }),
    403,
    "forbidden",
  );
});

test("agent tokens cannot open workspace streams and workspace tokens cannot open agent streams", async () => {
  const { cp } = server;
  const a = await credential("ws-a");
  await expectError(
    await call(cp, "GET", paths.workspaceStream("ws-a"), { token: agentToken }),
    403,
    "forbidden",
    /agent token cannot/,
  );
  await expectError(
    await call(cp, "GET", paths.agentStream("agent-a"), { token: a.token }),
    403,
    "forbidden",
    /workspace token cannot/,
  );
  await expectError(
    await call(cp, "POST", paths.workspaceCredential("agent-a", "ws-a"), { token: a.token }),
    403,
    "forbidden",
  );
  await expectError(
    await call(cp, "POST", paths.workspaceCredentialRefresh("ws-a"), { token: agentToken }),
    403,
    "forbidden",
  );
});

test("an agent token opens its own agent only, and gets credentials for its own workspaces only", async () => {
  const { cp } = server;
  await expectError(
    await call(cp, "GET", paths.agentStream("agent-a"), { token: otherAgentToken }),
    403,
    "forbidden",
    /another agent/,
  );
  await expectError(
    await call(cp, "POST", paths.workspaceCredential("agent-a", "ws-z"), { token: agentToken }),
    404,
    "not_found",
  );
  await expectError(
    await call(cp, "POST", paths.workspaceCredential("agent-a", "no-such"), { token: agentToken }),
    404,
    "not_found",
  );
});

test("workspace tokens expire after the TTL (401); a refresh before then gives a new one", async () => {
  const { cp } = server;
  const first = await credential("ws-a");
  const res = await call(cp, "POST", paths.workspaceCredentialRefresh("ws-a"), { token: first.token });
  assert.equal(res.status, 200);
  const refreshed = workspaceCredential.parse(await res.json());
  assert.notEqual(refreshed.token, first.token);
  assert.ok(Date.parse(refreshed.expiresAt) >= Date.parse(first.expiresAt));

  await sleep(1100);
  for (const token of [first.token, refreshed.token]) {
    await expectError(
      await call(cp, "GET", paths.workspaceStream("ws-a"), { token }),
      401,
      "unauthorized",
      /expired/,
    );
    await expectError(
      await call(cp, "POST", paths.workspaceCredentialRefresh("ws-a"), { token }),
      401,
      "unauthorized",
    );
  }
});

test("re-creating an agent rotates its token; deleting a workspace revokes its credentials", async () => {
  const { cp } = server;
  const oldToken = await agentWithWorkspace(cp, "agent-rot", "ws-rot");
  const ws = await credential("ws-rot", oldToken, "agent-rot");
  const { token: newToken } = await cp.admin.createAgent("agent-rot");
  await expectError(
    await call(cp, "GET", paths.agentStream("agent-rot"), { token: oldToken }),
    401,
    "unauthorized",
  );
  const s = await SseReader.open(cp, paths.agentStream("agent-rot"), newToken);
  const snap = await s.next();
  s.close();
  assert.match(snap.data, /ws-rot/, "rotation keeps the agent's workspaces");

  await cp.admin.deleteWorkspace("agent-rot", "ws-rot");
  await expectError(
    await call(cp, "GET", paths.workspaceStream("ws-rot"), { token: ws.token }),
    401,
    "unauthorized",
  );
});

test("unknown routes are 404 not_found with the error body", async () => {
  await expectError(await call(server.cp, "GET", "/v1/nothing", { token: agentToken }), 404, "not_found");
  await expectError(
    await call(server.cp, "DELETE", paths.agentStream("agent-a"), { token: agentToken }),
    404,
    "not_found",
  );
});

test("with an admin token, the admin API refuses callers without it", async () => {
  const guarded = await startTestServer({ adminToken: "admin-secret-0123456789" });
  try {
    const { cp } = guarded;
    await cp.admin.createAgent("agent-g");
    const res = await fetch(`${cp.url}/admin/agents/agent-g`);
    assert.equal(res.status, 401);
    assert.equal(errorBody.parse(await res.json()).error.code, "unauthorized");
    const wrong = await fetch(`${cp.url}/admin/agents/agent-g`, {
      headers: { authorization: "Bearer nope" },
    });
    assert.equal(wrong.status, 401);
    await expectError(
      await call(cp, "GET", paths.agentStream("agent-g"), { token: "admin-secret-0123456789" }),
      401,
      "unauthorized",
    );
  } finally {
    await guarded.cleanup();
  }
});
