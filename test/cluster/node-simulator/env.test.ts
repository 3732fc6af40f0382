import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import { type EnvSources, expandCommand, expandVars, resolveContainerEnv } from "./env.ts";

const pod: V1Pod = {
  metadata: { name: "web-1", namespace: "mw-x", uid: "u-1", labels: { app: "web", tier: "front" } },
  spec: { nodeName: "sim-node-0", serviceAccountName: "runner", containers: [] },
};

const sources: EnvSources = {
  configMap: (ns, name) => (ns === "mw-x" && name === "cfg" ? { MODE: "fast", LEVEL: "debug" } : undefined),
  secret: (ns, name) => (ns === "mw-x" && name === "creds" ? { token: "s3cr3t", user: "alice" } : undefined),
};

function resolve(container: Partial<V1Container>, base?: Record<string, string>) {
  return resolveContainerEnv({
    pod,
    container: { name: "c", ...container },
    podIP: "127.0.1.9",
    hostIP: "127.0.0.1",
    sources,
    base,
  });
}

describe("expandVars", () => {
  it("expands known variables, keeps unknown ones and honours $$ escapes", () => {
    const vars: Record<string, string> = { A: "1", B: "two" };
    const lookup = (n: string) => vars[n];
    assert.equal(expandVars("$(A)-$(B)", lookup), "1-two");
    assert.equal(expandVars("$(NOPE)/x", lookup), "$(NOPE)/x");
    assert.equal(expandVars("$$(A)", lookup), "$(A)");
    assert.equal(expandVars("cost $5 $(A", lookup), "cost $5 $(A");
  });
});

describe("resolveContainerEnv", () => {
  it("resolves values, Secret and ConfigMap keys and downward-API fields", () => {
    const r = resolve({
      env: [
        { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
        { name: "ADDR", value: "$(POD_IP):8080" },
        { name: "NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
        { name: "NS", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
        { name: "SA", valueFrom: { fieldRef: { fieldPath: "spec.serviceAccountName" } } },
        { name: "NODE", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
        { name: "APP", valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
        { name: "TOKEN", valueFrom: { secretKeyRef: { name: "creds", key: "token" } } },
        { name: "MODE", valueFrom: { configMapKeyRef: { name: "cfg", key: "MODE" } } },
        { name: "LATER", value: "$(EARLIER_UNDEFINED)" },
      ],
    });
    assert.deepEqual(r, {
      ok: true,
      env: {
        POD_IP: "127.0.1.9",
        ADDR: "127.0.1.9:8080",
        NAME: "web-1",
        NS: "mw-x",
        SA: "runner",
        NODE: "sim-node-0",
        APP: "web",
        TOKEN: "s3cr3t",
        MODE: "fast",
        LATER: "$(EARLIER_UNDEFINED)",
      },
    });
  });

  it("applies base, then envFrom (with prefix), then env, later entries winning", () => {
    const r = resolve(
      {
        envFrom: [{ configMapRef: { name: "cfg" } }, { secretRef: { name: "creds" }, prefix: "DB_" }],
        env: [
          { name: "LEVEL", value: "info" },
          { name: "URL", value: "$(DB_user)@$(KUBERNETES_SERVICE_HOST)" },
        ],
      },
      { KUBERNETES_SERVICE_HOST: "127.0.0.1", LEVEL: "base" },
    );
    assert.equal(r.ok, true);
    assert.deepEqual(r.ok && r.env, {
      KUBERNETES_SERVICE_HOST: "127.0.0.1",
      MODE: "fast",
      LEVEL: "info",
      DB_token: "s3cr3t",
      DB_user: "alice",
      URL: "alice@127.0.0.1",
    });
  });

  it("fails on a missing Secret, key or ConfigMap unless optional", () => {
    assert.deepEqual(
      resolve({ env: [{ name: "X", valueFrom: { secretKeyRef: { name: "nope", key: "k" } } }] }),
      {
        ok: false,
        error: 'secret "nope" not found',
      },
    );
    const missingKey = resolve({
      env: [{ name: "X", valueFrom: { secretKeyRef: { name: "creds", key: "k" } } }],
    });
    assert.equal(missingKey.ok, false);
    assert.match(!missingKey.ok ? missingKey.error : "", /couldn't find key k in Secret mw-x\/creds/);
    assert.deepEqual(resolve({ envFrom: [{ configMapRef: { name: "nope" } }] }), {
      ok: false,
      error: 'configmap "nope" not found',
    });
    assert.deepEqual(
      resolve({
        envFrom: [{ configMapRef: { name: "nope", optional: true } }],
        env: [{ name: "X", valueFrom: { secretKeyRef: { name: "creds", key: "k", optional: true } } }],
      }),
      { ok: true, env: {} },
    );
  });

  it("rejects unsupported fieldRefs instead of guessing", () => {
    const r = resolve({ env: [{ name: "X", valueFrom: { fieldRef: { fieldPath: "spec.priority" } } }] });
    assert.deepEqual(r, { ok: false, error: "unsupported fieldRef spec.priority" });
  });

  it("expands $(VAR) in command and args with the resolved env", () => {
    const c = expandCommand(
      { name: "c", command: ["sh", "-c", "echo $(A)"], args: ["$(B)", "$$(A)"] },
      { A: "x", B: "y" },
    );
    assert.deepEqual(c.command, ["sh", "-c", "echo x"]);
    assert.deepEqual(c.args, ["y", "$(A)"]);
  });
});
