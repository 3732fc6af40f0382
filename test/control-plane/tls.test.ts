// With a certificate and key, the control plane serves HTTPS (what a real deployment needs).
import assert from "node:assert/strict";
import { request } from "node:https";
import { test } from "node:test";
import { PROTOCOL_HEADER, paths } from "@meridian/shared/protocol/index";
import { CertificateAuthority } from "../cluster/certs.ts";
import { startTestServer } from "./test-support.ts";

/** One HTTPS request trusting `ca`; an event stream is read up to its first blank line. */
function httpsCall(
  method: string,
  url: string,
  ca: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, ca, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        text += c;
        if (text.includes("\n\n")) res.destroy();
      });
      res.on("close", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

test("HTTPS with a certificate and key: admin API and streams work over TLS", async () => {
  const server = await startTestServer();
  const dir = server.dbPath.replace(/cp\.db$/, "");
  const ca = await CertificateAuthority.create(dir, "ca", "meridian-test-ca");
  const cert = await ca.issue({
    name: "cp",
    commonName: "control-plane",
    hosts: ["127.0.0.1"],
    usage: "server",
  });
  await server.cp.stop();
  const tls = await startTestServer({ dbPath: server.dbPath, tls: { cert: cert.certPem, key: cert.keyPem } });
  try {
    assert.match(tls.cp.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const created = await httpsCall(
      "POST",
      `${tls.cp.url}/admin/agents`,
      ca.cert.certPem,
      {},
      '{"id":"agent-tls"}',
    );
    assert.equal(created.status, 200);
    const { token } = JSON.parse(created.body) as { token: string };
    const stream = await httpsCall("GET", tls.cp.url + paths.agentStream("agent-tls"), ca.cert.certPem, {
      [PROTOCOL_HEADER]: "1",
      authorization: `Bearer ${token}`,
    });
    assert.equal(stream.status, 200);
    // An empty snapshot, in its epoch and signed (decisions 41 and 42).
    assert.match(stream.body, /^id: \d+\nevent: snapshot\ndata: \{"workspaces":\[\],"epoch":\d+,/);
    assert.match(stream.body, /"signature":\{"keyId":"[0-9a-f]{16}","sig":"[\w-]{86}"\}\}\n\n/);
  } finally {
    await tls.cleanup();
    await server.cleanup();
  }
});
