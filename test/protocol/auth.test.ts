// Credentials and refusals against the real reference control plane: an expired workspace token is
// refreshed on 401 and the stream carries on; a token of another workspace (403) and a protocol
// version mismatch are reported as `fatal` and retried only with the long backoff, never in a loop.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  agentStream,
  CredentialTokenSource,
  classify,
  createDispatcher,
  ProtocolError,
  requestJson,
  requestWorkspaceCredential,
  type TokenSource,
  workspaceStream,
} from "@meridian/shared/controlplane/index";
import { paths } from "@meridian/shared/protocol/index";
import type { Dispatcher } from "undici";
import { DEPLOYMENT, type Harness, Recorder, sleep, startHarness, until, WORKSPACE } from "./support.ts";

let h: Harness;
before(async () => {
  h = await startHarness({ keepAliveMs: 200, workspaceTokenTtlSeconds: 1 });
});
after(() => h.cleanup());

async function agentWith(agentId: string, workspaces: string[]) {
  const { token } = await h.cp.admin.createAgent(agentId);
  for (const w of workspaces) await h.cp.admin.putWorkspace(agentId, w, WORKSPACE);
  return h.endpoint(token);
}

const streamAttempts = (workspaceId: string) =>
  h.requests.filter((r) => r.url === paths.workspaceStream(workspaceId));

test("an expired workspace token: 401, refresh() mints a new credential, the stream resumes", async (t) => {
  const agent = await agentWith("auth-a", ["auth-w"]);
  let refreshes = 0;
  let current = (await requestWorkspaceCredential(agent, "auth-a", "auth-w")).token;
  const tokens: TokenSource = {
    token: async () => current, // like a Secret not yet rewritten: no proactive renewal
    refresh: async () => {
      refreshes++;
      current = (await requestWorkspaceCredential(agent, "auth-a", "auth-w")).token;
    },
  };
  const c = workspaceStream(h.endpoint(tokens), "auth-w", { backoff: { baseMs: 50, capMs: 200 } });
  const rec = new Recorder(c as never);
  t.after(() => c.stop());
  c.start();
  await rec.waitFor((e) => e.name === "snapshot");
  await sleep(1200); // the token expires; the open stream is not affected
  await h.cp.admin.faults.dropStreams({ stream: "workspace", target: "auth-w" });
  const put = await h.cp.admin.putDeployment("auth-w", "orders", DEPLOYMENT);
  await until(() => c.lastEventId === put.eventId, 3000, "the deployment after the refresh");
  assert.equal(refreshes, 1);
  assert.deepEqual(
    rec.of("disconnected").map((d) => d.kind),
    ["retry", "refresh-credential"],
  );
  assert.ok((rec.of("disconnected")[1]!.retryInMs as number) <= 100, "one quick retry after the refresh");
  assert.deepEqual(
    streamAttempts("auth-w").map((r) => r.status),
    [200, 401, 200],
  );
  assert.equal(rec.of("snapshot").length, 1, "resumed after the refresh, no resync needed");
});

test("a CredentialTokenSource renews before expiry, so no 401 happens at all", async (t) => {
  const agent = await agentWith("auth-b", ["auth-v"]);
  const tokens = new CredentialTokenSource({
    fetch: () => requestWorkspaceCredential(agent, "auth-b", "auth-v"),
  });
  const c = workspaceStream(h.endpoint(tokens), "auth-v", { backoff: { baseMs: 50, capMs: 200 } });
  const rec = new Recorder(c as never);
  t.after(() => c.stop());
  c.start();
  await rec.waitFor((e) => e.name === "snapshot");
  for (let i = 0; i < 3; i++) {
    await sleep(500);
    await h.cp.admin.faults.dropStreams({ stream: "workspace", target: "auth-v" });
    await rec.waitFor(() => rec.of("connected").length === i + 2, 3000, "the redial");
  }
  assert.ok(streamAttempts("auth-v").every((r) => r.status === 200));
});

test("a token of another workspace: 403 → fatal, retried only after the long backoff", async (t) => {
  const agent = await agentWith("auth-c", ["auth-x", "auth-y"]);
  const tokens = new CredentialTokenSource({
    fetch: () => requestWorkspaceCredential(agent, "auth-c", "auth-y"),
  });
  const c = workspaceStream(h.endpoint(tokens), "auth-x", { fatalBackoffMs: 2000 });
  const rec = new Recorder(c as never);
  t.after(() => c.stop());
  c.start();
  const fatal = await rec.waitFor((e) => e.name === "fatal");
  assert.match(String(fatal.reason), /http 403 forbidden: this token belongs to another workspace/);
  await sleep(3000);
  const attempts = streamAttempts("auth-x");
  assert.ok(attempts.length <= 2, `at most 2 attempts in 3 s, saw ${attempts.length}`);
  assert.ok(attempts.every((r) => r.status === 403));
  assert.equal(rec.of("fatal").length, attempts.length, "fatal is emitted on every refusal");
});

/** A dispatcher that sends another protocol version, as an agent from another release would. */
function speaking(version: string): Dispatcher {
  return createDispatcher({ proxy: {} }).compose((dispatch) => (opts, handler) => {
    const headers = opts.headers;
    let rewritten: Dispatcher.DispatchOptions["headers"];
    if (Array.isArray(headers)) {
      rewritten = [...headers];
      for (let i = 0; i < rewritten.length; i += 2)
        if (String(rewritten[i]).toLowerCase() === "meridian-protocol-version") rewritten[i + 1] = version;
    } else rewritten = { ...(headers as Record<string, string>), "meridian-protocol-version": version };
    return dispatch({ ...opts, headers: rewritten }, handler);
  }) as unknown as Dispatcher;
}

test("a protocol version mismatch: a clear error, fatal, no hot loop — stream and status alike", async (t) => {
  const { token } = await h.cp.admin.createAgent("auth-old");
  const endpoint = h.endpoint(token, speaking("0"));
  const c = agentStream(endpoint, "auth-old", { fatalBackoffMs: 2000 });
  const rec = new Recorder(c as never);
  t.after(() => c.stop());
  c.start();
  const fatal = await rec.waitFor((e) => e.name === "fatal");
  assert.match(
    String(fatal.reason),
    /protocol_version_unsupported: this control plane speaks protocol version 1/,
  );
  assert.match(String(fatal.reason), /upgrade the agent/i);
  await sleep(3000);
  const attempts = h.requests.filter((r) => r.url === paths.agentStream("auth-old"));
  assert.ok(attempts.length <= 2, `at most 2 attempts in 3 s, saw ${attempts.length}`);

  const err = await requestJson(endpoint, { path: paths.agentStatus("auth-old"), body: {} }).catch((e) => e);
  assert.ok(err instanceof ProtocolError);
  assert.equal(err.code, "protocol_version_unsupported");
  assert.equal(classify(err).kind, "fatal-backoff-long");
});
