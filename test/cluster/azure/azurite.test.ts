// The tests' Azure Blob server is real Blob REST over TLS: it refuses requests signed with another
// key, and the CONNECT proxy in front of it tunnels only the account host's port 443 (Flink's JVMs
// going through it to Azurite: test/workspace-agent/azure-storage.test.ts).
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type AzuriteServer, startAzurite } from "./azurite.ts";

let dir: string;
let az: AzuriteServer;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "meridian-azurite-"));
  az = await startAzurite({ dir });
});
after(async () => {
  await az?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** The proxy's answer to `CONNECT target`: its status line's code. */
function connectStatus(target: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: "127.0.0.1",
      port: az.proxyPort,
      method: "CONNECT",
      path: target,
      timeout: 10_000,
    });
    req.on("connect", (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy(new Error(`the proxy did not answer CONNECT ${target}`)));
    req.on("error", reject);
    req.end();
  });
}

test("containers are created idempotently and listed through the signed Blob API", async () => {
  await az.createContainer("flink-state");
  await az.createContainer("flink-state");
  const list = await az.request("GET", "/", new URLSearchParams({ comp: "list" }));
  assert.equal(list.status, 200);
  assert.match(list.body, /<Name>flink-state<\/Name>/);
  assert.deepEqual(await az.listBlobs("flink-state"), []);
});

test("a request signed with another key is refused", async () => {
  const other = Buffer.alloc(64, 7).toString("base64");
  const r = await az.request("GET", "/", new URLSearchParams({ comp: "list" }), { key: other });
  assert.equal(r.status, 403, r.body);
});

test("the proxy tunnels the account host's port 443 and nothing else", async () => {
  const before = az.tunnels();
  assert.equal(await connectStatus(`${az.accountHost}:443`), 200);
  assert.equal(az.tunnels(), before + 1);
  assert.equal(await connectStatus("example.com:443"), 403);
  assert.equal(await connectStatus(`${az.accountHost}:80`), 403);
  assert.equal(az.tunnels(), before + 1);
});
