// The agent reaches a control plane served over HTTPS with a certificate of a custom CA through a real
// HTTP CONNECT proxy on loopback (test/cluster/connect-proxy.ts: password-protected, counts the tunnels
// it opens) — the path of a customer behind a corporate proxy (issue 15, deliverable 4). A control
// plane certificate of another CA is refused with a reason that says which setting to fix; a proxy
// killed in the middle of the stream is survived: the agent backs off while it is gone (counted at the
// proxy's port) and is back through the restarted proxy, reporting status, without a restart.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { rootCertificates } from "node:tls";
import { Agent, fetch as undiciFetch } from "undici";
import type { AgentHandle } from "../../agent/src/agent.ts";
import { CertificateAuthority } from "../cluster/certs.ts";
import { type ConnectProxy, startConnectProxy } from "../cluster/connect-proxy.ts";
import { AdminClient, type ControlPlane, startControlPlane } from "../control-plane/index.ts";
import { type Harness, startHarness, waitFor } from "./harness.ts";

const PROXY = { user: "meridian", password: "tunnel-pass-5d1c9e" };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let h: Harness;
let cp: ControlPlane;
let admin: AdminClient;
let trusting: Agent;
let proxy: ConnectProxy;
let agent: AgentHandle | undefined;
let flags: Record<string, string>;
let rightCa: string;
let wrongCa: string;

before(async () => {
  h = await startHarness();
  const ca = await CertificateAuthority.create(h.dir, "campaign-ca", "meridian-campaign-ca");
  const other = await CertificateAuthority.create(h.dir, "other-ca", "meridian-other-ca");
  const cert = await ca.issue({
    name: "cp-tls",
    commonName: "control-plane",
    hosts: ["127.0.0.1"],
    usage: "server",
  });
  cp = await startControlPlane({
    dbPath: join(h.dir, "cp-tls.db"),
    keepAliveMs: 1000,
    tls: { cert: cert.certPem, key: cert.keyPem },
  });
  trusting = new Agent({ connect: { ca: [...rootCertificates, ca.cert.certPem] } });
  admin = new AdminClient(cp.url, undefined, ((input: string, init?: Record<string, unknown>) =>
    undiciFetch(input, { ...init, dispatcher: trusting })) as unknown as typeof fetch);
  rightCa = ca.cert.certPath;
  wrongCa = other.cert.certPath;
  const { token } = await admin.createAgent(h.agentId);
  h.tokens.add(token);
  const tokenFile = join(h.dir, "tls-agent-token");
  await writeFile(tokenFile, token, { mode: 0o600 });
  proxy = await startConnectProxy(PROXY);
  flags = {
    controlPlaneUrl: cp.url,
    tokenFile,
    httpsProxy: proxy.url,
    statusHeartbeatMs: "1000",
    policyFile: await h.writePolicy({
      namespacePrefix: "mw-",
      allowedRegistries: { workspaceAgent: ["ghcr.io/meridian-dev"], flink: ["docker.io/library/flink"] },
    }),
  };
});
after(async () => {
  await agent?.stop();
  await proxy?.stop();
  await cp?.stop();
  await trusting?.close();
  await h?.stop();
});

const cpHost = () => new URL(cp.url).host;
const tunnels = () => proxy.tunnels().get(cpHost()) ?? 0;
const linesSince = (n: number) => h.logs.slice(n).join("\n");

test("a control-plane certificate of another CA is refused, saying which setting to fix", async () => {
  const from = h.logs.length;
  agent = await h.startAgent({ ...flags, caFile: wrongCa });
  await waitFor("the stream refused for its certificate", () =>
    /TLS certificate is not trusted: give the agent the CA that signed it \(--ca-file/.test(linesSince(from)),
  );
  assert.ok(tunnels() >= 1, "the proxy tunnelled the attempt: the refusal is the agent's, after CONNECT");
  assert.equal((await admin.streams()).streams.length, 0, "no stream reached the control plane");
  assert.equal(proxy.refused(), 0, "the proxy's password travelled with every CONNECT");
  await agent.stop();
  agent = undefined;
});

test("with the CA that signed it, the stream and the status go through the proxy", async () => {
  const before = tunnels();
  agent = await h.startAgent({ ...flags, caFile: rightCa });
  await admin.waitForStreams({ stream: "agent", target: h.agentId }, 30_000);
  await admin.putWorkspace(h.agentId, "tls", { quota: { cpu: "1", memory: "1Gi" } });
  await waitFor("the workspace reported through the proxy", async () =>
    (await admin.getAgentStatus(h.agentId))?.workspaces.find((w) => w.id === "tls"),
  );
  assert.ok(tunnels() - before >= 2, `tunnels to ${cpHost()}: ${tunnels() - before} (stream and status)`);
  assert.equal(proxy.refused(), 0);
});

test("a proxy killed in the middle of the stream: back-off while it is gone, back through it after", async (t) => {
  assert.ok(agent, "the agent of the test before runs");
  const port = proxy.port;
  const from = h.logs.length;
  await proxy.stop();
  // While the proxy is gone, something answers its port and drops every connection at once: each one
  // is a dial of the agent, so the count shows whether it backs off or spins.
  let dials = 0;
  const gone: Server = createServer((s) => {
    dials++;
    s.destroy();
  });
  await new Promise<void>((resolve) => gone.listen(port, "127.0.0.1", () => resolve()));
  await sleep(6000);
  await new Promise<void>((resolve) => gone.close(() => resolve()));
  // Stream and status redial on their own back-off (500 ms doubling to 30 s, full jitter): a handful
  // of dials in 6 s each; a client without back-off makes hundreds.
  t.diagnostic(`${dials} dials in 6 s while the proxy was gone`);
  assert.ok(dials >= 2 && dials <= 40, `${dials} dials in 6 s while the proxy was gone`);
  assert.match(linesSince(from), /stream disconnected|status report failed/);

  const restartedAt = new Date();
  proxy = await startConnectProxy({ ...PROXY, port });
  await admin.waitForStreams({ stream: "agent", target: h.agentId, connectedAfter: restartedAt }, 45_000);
  assert.ok(tunnels() >= 1, "back through the restarted proxy");
  await waitFor(
    "a status after the proxy came back",
    async () => Date.parse((await admin.getAgent(h.agentId)).lastHeartbeatAt ?? "") > restartedAt.getTime(),
    20_000,
  );
  assert.ok(!h.logs.join("\n").includes(PROXY.password), "the proxy password is in no log line");
});
