import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { V1Pod, V1Service } from "@kubernetes/client-node";
import { buildHostsFile, parseHostsFile } from "./hosts.ts";
import { candidateNames, lookupHosts } from "./hosts-preload.ts";
import { genericCommand, imageMatches, rewriteMountPaths, withMountPaths } from "./image-map.ts";

const pod = (name: string, ns: string, ip: string, labels: Record<string, string>, ready = true): V1Pod => ({
  metadata: { name, namespace: ns, labels, creationTimestamp: new Date(`2026-01-01T00:00:0${ip.at(-1)}Z`) },
  spec: { containers: [] },
  status: { phase: "Running", podIP: ip, conditions: [{ type: "Ready", status: ready ? "True" : "False" }] },
});
const svc = (name: string, ns: string, selector: Record<string, string>): V1Service => ({
  metadata: { name, namespace: ns },
  spec: { selector },
});

const dir = mkdtempSync(join(tmpdir(), "meridian-hosts-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("hosts file", () => {
  const text = buildHostsFile(
    [svc("jm", "mw-x", { app: "jm" }), svc("jm", "mw-y", { app: "jm" })],
    [
      pod("jm-0", "mw-x", "127.0.1.1", { app: "jm" }),
      pod("jm-0", "mw-y", "127.0.1.2", { app: "jm" }),
      pod("jm-1", "mw-x", "127.0.1.3", { app: "jm" }, false),
    ],
    ["sim-node-0"],
  );
  const map = parseHostsFile(text);
  const file = join(dir, "hosts");
  writeFileSync(file, text);

  it("maps every Service name form to its ready pods only", () => {
    assert.deepEqual(map.get("jm.mw-x.svc.cluster.local"), ["127.0.1.1"]);
    assert.deepEqual(map.get("jm.mw-x.svc"), ["127.0.1.1"]);
    assert.deepEqual(map.get("jm.mw-x"), ["127.0.1.1"]);
    assert.deepEqual(map.get("jm.mw-y.svc"), ["127.0.1.2"]);
    assert.deepEqual(map.get("sim-node-0"), ["127.0.0.1"]);
    assert.deepEqual(map.get("127-0-1-3.mw-x.pod.cluster.local"), ["127.0.1.3"]);
  });

  it("resolves short names through the pod's namespace search path", () => {
    assert.deepEqual(candidateNames("jm", "mw-y").slice(0, 2), [
      "jm.mw-y.svc.cluster.local",
      "jm.svc.cluster.local",
    ]);
    assert.deepEqual(lookupHosts("jm", 0, file, "mw-y"), [{ address: "127.0.1.2", family: 4 }]);
    assert.deepEqual(lookupHosts("jm.mw-x.svc", 4, file, "mw-y"), [{ address: "127.0.1.1", family: 4 }]);
    assert.equal(lookupHosts("jm.mw-x.svc", 6, file, "mw-y"), undefined);
    assert.equal(lookupHosts("example.invalid", 0, file, "mw-y"), undefined);
  });

  it("makes dns.lookup, net and fetch in a child process resolve Service names", () => {
    const preload = fileURLToPath(new URL("./hosts-preload.ts", import.meta.url));
    const script = `
      import dns from "node:dns";
      import { lookup } from "node:dns/promises";
      import http from "node:http";
      const srv = http.createServer((_q, s) => s.end("pong")).listen(0, "127.0.1.2", async () => {
        const port = srv.address().port;
        const a = await new Promise((r) => dns.lookup("jm", (e, addr) => r(addr)));
        const b = (await lookup("jm.mw-x.svc")).address;
        const body = await (await fetch("http://jm.mw-y.svc:" + port + "/")).text();
        console.log(JSON.stringify([a, b, body]));
        srv.close();
      });`;
    const res = spawnSync(process.execPath, ["--import", preload, "--input-type=module", "-e", script], {
      env: { ...process.env, MERIDIAN_HOSTS_FILE: file, MERIDIAN_POD_NAMESPACE: "mw-y" },
      encoding: "utf8",
      timeout: 20_000,
    });
    assert.equal(res.status, 0, res.stderr);
    assert.deepEqual(JSON.parse(res.stdout), ["127.0.1.2", "127.0.1.1", "pong"]);
  });
});

describe("image map helpers", () => {
  it("matches images by glob, with or without registry defaults and tags", () => {
    assert.ok(imageMatches("busybox", "busybox:1.36"));
    assert.ok(imageMatches("busybox", "docker.io/library/busybox"));
    assert.ok(imageMatches("sim/shell:*", "sim/shell:1"));
    assert.ok(
      imageMatches("ghcr.io/meridian-dev/meridian-agent", "ghcr.io/meridian-dev/meridian-agent@sha256:abcd"),
    );
    assert.ok(
      !imageMatches("ghcr.io/meridian-dev/meridian-agent", "ghcr.io/meridian-dev/meridian-agent-x:1"),
    );
  });

  it("rewrites mount paths at word starts but not paths inside the simulator dir", () => {
    const dirs = { "/etc/cfg": "/sim/pods/p/volumes/cfg", "/tmp": "/sim/pods/p/volumes/tmp" };
    assert.equal(rewriteMountPaths("cat /etc/cfg/a.yaml", dirs), "cat /sim/pods/p/volumes/cfg/a.yaml");
    assert.equal(
      rewriteMountPaths("--policy-file=/etc/cfg/p", dirs),
      "--policy-file=/sim/pods/p/volumes/cfg/p",
    );
    assert.equal(rewriteMountPaths("/etc/cfgx", dirs), "/etc/cfgx");
    assert.equal(rewriteMountPaths("/tmp/sim-1/x", dirs, ["/tmp/sim-1"]), "/tmp/sim-1/x");
  });
});

describe("genericCommand", () => {
  const ctx = (command: string[] | undefined, args: string[] | undefined) =>
    ({
      container: { name: "main", image: "busybox", command, args },
      env: {},
      podDir: "/tmp/pod",
      volumeDirs: {},
      hostsFile: "/tmp/sim/hosts",
    }) as unknown as Parameters<ReturnType<typeof genericCommand>["launch"]>[0];

  it("runs args alone as the command line, as busybox's empty ENTRYPOINT does", async () => {
    const l = await genericCommand().launch(ctx(undefined, ["sh", "-c", "echo hi"]));
    assert.equal(l.command, "sh");
    assert.deepEqual(l.args, ["-c", "echo hi"]);
  });

  it("puts args after an explicit command, and runs sh when given neither", async () => {
    const l = await genericCommand().launch(ctx(["/bin/echo"], ["a", "b"]));
    assert.deepEqual([l.command, ...l.args], ["/bin/echo", "a", "b"]);
    const bare = await genericCommand().launch(ctx(undefined, undefined));
    assert.deepEqual([bare.command, ...bare.args], ["sh"]);
  });
});

describe("withMountPaths", () => {
  it("never rewrites the harness's own files, even under a mounted path (a checkout in /tmp, a /tmp emptyDir)", () => {
    const repo = fileURLToPath(new URL("../../../", import.meta.url));
    const top = `/${repo.split("/")[1]}`; // e.g. /tmp for a CI clone in /tmp, /work here
    const script = `${repo}agent/src/main.ts`;
    const launch = withMountPaths(
      {
        command: process.execPath,
        args: [script, `${top}/data/x`],
        env: { NODE_OPTIONS: `--import=${repo}test/cluster/node-simulator/hosts-preload.ts` },
      },
      { volumeDirs: { [top]: "/sim/pods/p/volumes/tmp" }, hostsFile: "/sim/hosts", podDir: "/sim/pods/p" },
    );
    assert.equal(launch.args[0], script, "the entry point stays a host path");
    assert.equal(launch.env.NODE_OPTIONS, `--import=${repo}test/cluster/node-simulator/hosts-preload.ts`);
    assert.equal(launch.args[1], "/sim/pods/p/volumes/tmp/data/x", "a container path is still mapped");
  });
});
