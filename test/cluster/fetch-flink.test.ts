// fetch-flink.sh resolves every jar it caches, the example job jar included, through Maven, so a
// user's ~/.m2/settings.xml is honoured: here a mirror of every repository (`<mirrorOf>*`) on loopback,
// serving the Maven repository an earlier `bash test/cluster/fetch-flink.sh` filled, and environment
// proxies that refuse everything, so anything fetched around Maven (curl from a hard-coded URL) fails.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { type MavenMirror, startMavenMirror } from "./maven-mirror.ts";
import { cacheDir, repoRoot } from "./paths.ts";

const version = readFileSync(join(repoRoot, "test/cluster/flink-version"), "utf8").trim();
const exampleJar = `flink-examples-streaming-${version}.jar`;
const examplePath = `/org/apache/flink/flink-examples-streaming/${version}/${exampleJar}`;
const source = join(cacheDir(), "m2");

const settingsXml = (mirrorUrl: string) => `<settings>
  <mirrors>
    <mirror><id>loopback</id><mirrorOf>*</mirrorOf><url>${mirrorUrl}</url></mirror>
  </mirrors>
</settings>
`;

describe("fetch-flink.sh with a settings.xml mirror", () => {
  let dir: string;
  let mirror: MavenMirror;
  const proxied: string[] = [];
  const proxy = createServer((req, res) => {
    proxied.push(`${req.method} ${req.url}`);
    res.writeHead(403).end();
  }).on("connect", (req, socket) => {
    proxied.push(`CONNECT ${req.url}`);
    socket.end("HTTP/1.1 403 Forbidden\r\n\r\n");
  });
  let result: { code: number; output: string };

  before(async () => {
    assert.ok(
      existsSync(join(source, examplePath)),
      `no ${exampleJar} in ${source} to mirror: run bash test/cluster/fetch-flink.sh first`,
    );
    dir = mkdtempSync(join(tmpdir(), "meridian-fetch-flink-"));
    mirror = await startMavenMirror(source);
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    mkdirSync(join(dir, "home/.m2"), { recursive: true });
    writeFileSync(join(dir, "home/.m2/settings.xml"), settingsXml(mirror.url));
    const env = {
      PATH: process.env.PATH,
      MERIDIAN_CACHE: join(dir, "cache"),
      // The JVM takes its home from the password database, not $HOME: this is how a test moves ~.
      MAVEN_OPTS: `-Duser.home=${join(dir, "home")}`,
      ...Object.fromEntries(
        ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"].map((k) => [k, proxyUrl]),
      ),
    };
    const run = promisify(execFile)("bash", [join(repoRoot, "test/cluster/fetch-flink.sh")], { env });
    result = await run.then(
      (r) => ({ code: 0, output: r.stdout + r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({
        code: e.code,
        output: e.stdout + e.stderr,
      }),
    );
  });

  after(async () => {
    await mirror?.close();
    proxy.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("succeeds", () => assert.equal(result.code, 0, result.output));

  it("resolves the example job jar through the mirror, byte for byte", () => {
    assert.ok(
      mirror.requests.some((r) => r.path === examplePath && r.status === 200),
      `the mirror was never asked for ${examplePath}; it served:\n${mirror.requests.map((r) => r.path).join("\n")}`,
    );
    const home = join(dir, "cache/flink", version);
    assert.deepEqual(readdirSync(join(home, "usrlib")), [exampleJar]);
    assert.deepEqual(readFileSync(join(home, "usrlib", exampleJar)), readFileSync(join(source, examplePath)));
  });

  it("resolves the runtime through the mirror too and goes around it for nothing", () => {
    assert.ok(mirror.requests.some((r) => r.path.includes("/flink-runtime/") && r.status === 200));
    assert.deepEqual(proxied, []);
  });
});
