import assert from "node:assert/strict";
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { WorkspaceCredential } from "@meridian/shared/protocol/index";
import {
  CredentialTokenSource,
  FileTokenSource,
  refreshDueAt,
  requestWorkspaceCredential,
} from "./credentials.ts";
import { startFakeServer } from "./fake-server.testutil.ts";

async function tempDir(t: import("node:test").TestContext) {
  const dir = await mkdtemp(join(tmpdir(), "meridian-token-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test("FileTokenSource trims, caches and re-reads when the file changes", async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, "token");
  await writeFile(file, "first-token\n");
  const src = new FileTokenSource(file);
  assert.equal(await src.token(), "first-token");
  await writeFile(file, "second-token-longer\n");
  assert.equal(await src.token(), "second-token-longer");
});

test("FileTokenSource follows a kubelet-style symlink swap and re-reads on refresh()", async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, "..v1"));
  await writeFile(join(dir, "..v1", "token"), "v1-token");
  await symlink("..v1", join(dir, "..data"));
  await symlink(join("..data", "token"), join(dir, "token"));
  const src = new FileTokenSource(join(dir, "token"));
  assert.equal(await src.token(), "v1-token");
  await mkdir(join(dir, "..v2"));
  await writeFile(join(dir, "..v2", "token"), "v2-token");
  await symlink("..v2", join(dir, "..data.tmp"));
  await rename(join(dir, "..data.tmp"), join(dir, "..data"));
  await src.refresh();
  assert.equal(await src.token(), "v2-token");
});

test("FileTokenSource names the file when it is missing or empty", async (t) => {
  const dir = await tempDir(t);
  await assert.rejects(
    new FileTokenSource(join(dir, "nope")).token(),
    /token file .*nope.*Secret is mounted/,
  );
  await writeFile(join(dir, "empty"), "  \n");
  await assert.rejects(new FileTokenSource(join(dir, "empty")).token(), /is empty/);
});

test("CredentialTokenSource renews once a third of the lifetime remains, single-flight", async (t) => {
  let now = 1_000_000;
  let minted = 0;
  const seen: string[] = [];
  const src = new CredentialTokenSource({
    now: () => now,
    fetch: async () => {
      minted++;
      await new Promise((r) => setTimeout(r, 5));
      return {
        workspaceId: "w",
        token: `token-number-${minted}-abcdef`,
        expiresAt: new Date(now + 90_000).toISOString(),
      };
    },
    onCredential: (c) => void seen.push(c.token),
  });
  t.after(() => {});
  const [a, b] = await Promise.all([src.token(), src.token()]);
  assert.equal(a, "token-number-1-abcdef");
  assert.equal(b, a);
  assert.equal(minted, 1);
  now += 59_000;
  assert.equal(await src.token(), "token-number-1-abcdef", "more than a third left");
  now += 2_000;
  assert.equal(await src.token(), "token-number-2-abcdef", "less than a third left");
  await src.refresh();
  assert.equal(await src.token(), "token-number-3-abcdef");
  assert.deepEqual(seen, ["token-number-1-abcdef", "token-number-2-abcdef", "token-number-3-abcdef"]);
});

test("refreshDueAt is two thirds into the lifetime", () => {
  const c: WorkspaceCredential = {
    workspaceId: "w",
    token: "x".repeat(16),
    expiresAt: new Date(90_000).toISOString(),
  };
  assert.equal(refreshDueAt(c, 0), 60_000);
});

test("requestWorkspaceCredential posts to the agent's path and validates the answer", async (t) => {
  const srv = await startFakeServer();
  t.after(() => srv.close());
  const body = { workspaceId: "team-a", token: "ws-token-0123456789", expiresAt: "2030-01-01T00:00:00Z" };
  srv.handle((_req, res) => {
    res.writeHead(200, { "content-type": "application/json", "meridian-protocol-version": "1" });
    res.end(JSON.stringify(srv.seen.length === 1 ? body : { ...body, token: "short" }));
  });
  assert.deepEqual(await requestWorkspaceCredential(srv.endpoint(), "agent-1", "team-a"), body);
  assert.equal(srv.seen[0]!.url, "/v1/agents/agent-1/workspaces/team-a/credentials");
  assert.equal(srv.seen[0]!.method, "POST");
  await assert.rejects(requestWorkspaceCredential(srv.endpoint(), "agent-1", "team-a"), /token: /);
});

test("a credential for another workspace, or with a token that is no header value, is refused", async (t) => {
  const srv = await startFakeServer();
  t.after(() => srv.close());
  const good = { workspaceId: "team-a", token: "ws-token-0123456789", expiresAt: "2030-01-01T00:00:00Z" };
  const answers = [
    { ...good, workspaceId: "team-b" },
    { ...good, token: "ws-token-0123456789\r\nx-evil: 1" },
  ];
  srv.handle((_req, res) => {
    res.writeHead(200, { "content-type": "application/json", "meridian-protocol-version": "1" });
    res.end(JSON.stringify(answers[srv.seen.length - 1]));
  });
  await assert.rejects(
    requestWorkspaceCredential(srv.endpoint(), "agent-1", "team-a"),
    /answered with a credential for workspace "team-b", not "team-a"; refused/,
  );
  await assert.rejects(
    requestWorkspaceCredential(srv.endpoint(), "agent-1", "team-a"),
    /token: must be visible ASCII/,
  );
});
