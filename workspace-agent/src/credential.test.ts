import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, beforeEach, type TestContext, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import type { BackoffOptions } from "@meridian/shared/backoff";
import type { KubeClient } from "@meridian/shared/kube/client";
import { FakeApiServer } from "@meridian/shared/kube/fake-apiserver";
import { createLogger } from "@meridian/shared/log";
import { SecretTokenSource } from "./credential.ts";

const NS = "mw-w";
const NAME = "meridian-workspace-credential";
const SECRETS = `/api/v1/namespaces/${NS}/secrets`;
const b64 = (s: string) => Buffer.from(s).toString("base64");
const secret = (token: string) => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name: NAME, namespace: NS },
  data: { token: b64(token), expiresAt: b64("2030-01-01T00:00:00Z"), workspaceId: b64("w") },
});

let server: FakeApiServer;
let client: KubeClient;
before(async () => {
  server = await new FakeApiServer().start();
  client = await server.client();
});
after(async () => {
  await client.close();
  await server.stop();
});
beforeEach(() => {
  server.watchErrorOnNext = { count: 0, status: 500 };
  server.goneOnNextWatches = 0;
});

function source(t: TestContext, backoff: BackoffOptions) {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split("\n")) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  const logger = createLogger({ component: "test", destination, level: "debug" });
  const tokens = new SecretTokenSource({
    client,
    namespace: NS,
    name: NAME,
    workspaceId: "w",
    logger,
    backoff,
  });
  t.after(() => tokens.stop());
  return { tokens, lines };
}

const watches = () => server.requests.filter((r) => r.path === SECRETS).length;

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await delay(10);
  }
}

test("a watch that keeps answering with an ERROR event backs off, growing to the cap, and resumes once it stops", async (t) => {
  server.put(SECRETS, secret("one"));
  server.watchErrorOnNext = { count: 1_000_000, status: 500 };
  const { tokens, lines } = source(t, { baseMs: 40, capMs: 160, floorMs: 10, random: () => 0.999999 });
  await tokens.start();
  assert.equal(await tokens.token(), "one");
  const before = watches();
  await delay(600);
  const during = watches() - before;
  // 39 + 79 + 159 + 159 ms of waiting fit in 600 ms; without a back-off it is hundreds of watches.
  assert.ok(during >= 3 && during <= 7, `${during} watch requests in 600 ms`);
  const failed = lines.filter((l) => l.msg === "credential watch failed; retrying");
  assert.deepEqual(
    failed.slice(0, 4).map((l) => l.delayMs),
    [39, 79, 159, 159],
    "capped exponential delays",
  );
  assert.equal(failed[0]?.level, "warn");
  assert.match(JSON.stringify(failed[0]?.err), /answered 500 InternalError: injected/);

  server.watchErrorOnNext = { count: 0, status: 500 };
  await until("watch open again", () => server.watchers > 0);
  server.put(SECRETS, secret("two"));
  await until("new token seen", async () => (await tokens.token()) === "two");
});

test("after 410 Gone the Secret is read again at once and the watch resumes", async (t) => {
  server.put(SECRETS, secret("three"));
  server.goneOnNextWatches = 1;
  const { tokens, lines } = source(t, { baseMs: 5_000, capMs: 5_000 });
  const reads = () => server.requests.filter((r) => r.path === `${SECRETS}/${NAME}`).length;
  const readsBefore = reads();
  await tokens.start();
  await until("re-read after 410", () => reads() >= readsBefore + 2);
  await until("watch open again", () => server.watchers > 0);
  server.put(SECRETS, secret("four"));
  await until("new token seen", async () => (await tokens.token()) === "four");
  assert.equal(lines.filter((l) => l.msg === "credential watch failed; retrying").length, 0, "no back-off");
});

test("a 401 the Secret does not cure asks the agent for a new credential once, naming the refused one", async (t) => {
  server.put(SECRETS, secret("five"));
  const { tokens, lines } = source(t, { baseMs: 5_000, capMs: 5_000 });
  await tokens.start();
  assert.equal(await tokens.token(), "five");
  const requests = () =>
    server.requests.filter((r) => r.path.endsWith("/configmaps/meridian-credential-request")).length;
  // The 401 answered a token the Secret no longer holds: the newer one is not taken for refused.
  await tokens.refresh("an-older-token");
  assert.equal(requests(), 0);
  await tokens.refresh("five");
  assert.equal(requests(), 1);
  const cm = server.objects.get(`/api/v1/namespaces/${NS}/configmaps/meridian-credential-request`)?.obj;
  assert.equal((cm?.data as Record<string, string> | undefined)?.refusedExpiresAt, "2030-01-01T00:00:00Z");
  assert.equal(cm?.metadata?.labels?.["app.kubernetes.io/managed-by"], "meridian-workspace-agent");
  await tokens.refresh("five");
  assert.equal(requests(), 1, "asked once per refused credential");
  assert.ok(lines.some((l) => /asked the agent for a new one/.test(String(l.msg))));
  assert.ok(!JSON.stringify(lines).includes('"five"'), "the token is never logged");
});
