// No secret where it should not be, in what `helm template` really renders: every secret the chart can
// take as a value (the agent's token, the proxy URL with its password) sits only in the data of the
// chart's own Secret, never in a Deployment, ConfigMap, annotation or any other object, nor in the
// workspace agent Deployment the agent builds from that configuration; and every one of them can come
// from a Secret the customer made instead (test/helm/values/secrets-from-existing.yaml), so nothing
// sensitive needs to sit in Helm's release record.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { workspaceAgentDeployment } from "./agent-pod.ts";
import { type Manifest, one, render } from "./helm.ts";

const TOKEN = "mra_chart-secret-test-0123456789abcdef";
const PROXY_PASSWORD = "Pr0xy-p4ss-chart-test";
const PROXY_URL = `http://meridian:${PROXY_PASSWORD}@proxy.corp.example:3128`;

/** Where a value may be found: its plain text and its base64 (Secret data, a values echo). */
const forms = (value: string) => [value, Buffer.from(value, "utf8").toString("base64")];

/** Names of the objects whose rendered JSON contains `value` in any form. */
function holders(manifests: Manifest[], value: string): string[] {
  return manifests
    .filter((m) => forms(value).some((f) => JSON.stringify(m).includes(f)))
    .map((m) => `${m.kind}/${m.metadata.name}`);
}

describe("secrets given as values", async () => {
  const manifests = await render(["defaults"], { token: TOKEN, "proxy.httpsProxy": PROXY_URL });

  test("the token is only in the chart's token Secret", () => {
    assert.deepEqual(holders(manifests, TOKEN), ["Secret/meridian-agent-token"]);
    assert.equal(
      Buffer.from(one(manifests, "Secret", "meridian-agent-token").data.token, "base64").toString(),
      TOKEN,
    );
  });

  test("the proxy URL and its password are only in the chart's proxy Secret", () => {
    assert.deepEqual(holders(manifests, PROXY_URL), ["Secret/meridian-agent-proxy"]);
    assert.deepEqual(
      manifests.filter((m) => JSON.stringify(m).includes(PROXY_PASSWORD)).map((m) => m.kind),
      [],
      "the password in plain text",
    );
    const env = one(manifests, "Deployment").spec.template.spec.containers[0].env;
    const proxy = env.find((e: { name: string }) => e.name === "HTTPS_PROXY");
    assert.deepEqual(proxy, {
      name: "HTTPS_PROXY",
      valueFrom: { secretKeyRef: { name: "meridian-agent-proxy", key: "httpsProxy" } },
    });
  });

  test("the workspace agent Deployment the agent builds from it holds neither", () => {
    const deployment = workspaceAgentDeployment(manifests);
    assert.deepEqual(holders([deployment], PROXY_URL), []);
    assert.deepEqual(holders([deployment], TOKEN), []);
    assert.ok(!JSON.stringify(deployment).includes(PROXY_PASSWORD));
    const env = deployment.spec.template.spec.containers[0].env;
    assert.deepEqual(env.find((e: { name: string }) => e.name === "HTTPS_PROXY")?.valueFrom, {
      secretKeyRef: { name: "meridian-workspace-proxy", key: "httpsProxy" },
    });
  });

  test("a changed token or proxy rolls the agents (the pod template changes)", async () => {
    const annotations = (m: Manifest[]) => one(m, "Deployment").spec.template.metadata.annotations;
    const other = await render(["defaults"], { token: TOKEN, "proxy.httpsProxy": `${PROXY_URL}0` });
    assert.notEqual(annotations(other)["checksum/secrets"], annotations(manifests)["checksum/secrets"]);
  });
});

describe("every secret from an existing Secret (secrets-from-existing.yaml)", async () => {
  const manifests = await render(["secrets-from-existing"]);
  const pod = one(manifests, "Deployment").spec.template.spec;
  const container = pod.containers[0];

  test("the chart renders no Secret and no checksum of one", () => {
    assert.deepEqual(
      manifests.filter((m) => m.kind === "Secret").map((m) => m.metadata.name),
      [],
    );
    assert.equal(
      one(manifests, "Deployment").spec.template.metadata.annotations["checksum/secrets"],
      undefined,
    );
  });

  test("the token, the CA bundle and the proxy URL are read from the customer's Secrets", () => {
    const token = pod.volumes.find((v: { name: string }) => v.name === "token");
    assert.deepEqual(token.secret.items, [{ key: "agent-token", path: "token" }]);
    assert.equal(token.secret.secretName, "meridian-agent-credentials");
    const ca = pod.volumes.find((v: { name: string }) => v.name === "ca");
    assert.deepEqual(ca.projected.sources, [
      { secret: { name: "corp-proxy-ca", items: [{ key: "ca-bundle.pem", path: "ca.crt" }] } },
    ]);
    const proxy = container.env.find((e: { name: string }) => e.name === "HTTPS_PROXY");
    assert.deepEqual(proxy.valueFrom, { secretKeyRef: { name: "corp-proxy", key: "url" } });
    const noProxy = container.env.find((e: { name: string }) => e.name === "NO_PROXY");
    assert.match(noProxy.value, /^10\.0\.0\.0\/8,kubernetes\.default\.svc/);
  });
});
