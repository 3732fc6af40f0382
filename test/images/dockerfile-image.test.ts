// The images the real node runs agree with the root Dockerfile: the archive's config (read back
// from the OCI archive, not from the builder) has the stage's USER, ENTRYPOINT, CMD, WORKDIR, ENV
// and EXPOSE, its one layer holds the program and the bundle the ENTRYPOINT names and each COPY's
// destination, and a stage instruction the builder does not carry out fails the build by name.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { repoRoot } from "../cluster/paths.ts";
import { copies, envVars, execForm, parseDockerfile, type Stage, user } from "./dockerfile.ts";
import { buildDockerfileImage, DISTROLESS_NODE_ENV, imageName, stageConfig } from "./dockerfile-image.ts";

const dockerfileText = readFileSync(join(repoRoot, "Dockerfile"), "utf8");
const stage = (name: string): Stage => parseDockerfile(dockerfileText).stages.find((s) => s.name === name)!;

interface ArchiveConfig {
  config: {
    User?: string;
    Env: string[];
    Entrypoint: string[];
    Cmd?: string[];
    WorkingDir?: string;
    ExposedPorts?: Record<string, object>;
  };
}

function readArchive(path: string) {
  const read = (entry: string) =>
    execFileSync("tar", ["-xOf", path, entry], { maxBuffer: 512 * 1024 * 1024 });
  const index = JSON.parse(read("index.json").toString()) as {
    manifests: { digest: string; annotations: Record<string, string> }[];
  };
  const blob = (digest: string) => read(`blobs/sha256/${digest.replace("sha256:", "")}`);
  const manifest = JSON.parse(blob(index.manifests[0]!.digest).toString()) as {
    config: { digest: string };
    layers: { digest: string }[];
  };
  const config = JSON.parse(blob(manifest.config.digest).toString()) as ArchiveConfig;
  assert.equal(manifest.layers.length, 1, "one layer");
  const files = execFileSync(
    "sh",
    [
      "-c",
      `tar -xOf "$0" "blobs/sha256/$1" | tar -t`,
      path,
      manifest.layers[0]!.digest.replace("sha256:", ""),
    ],
    { maxBuffer: 64 * 1024 * 1024 },
  )
    .toString()
    .split("\n")
    .map((f) => f.replace(/^\.\//, "/"));
  return { name: index.manifests[0]!.annotations["io.containerd.image.name"], config: config.config, files };
}

describe("the real node's agent images agree with the Dockerfile", () => {
  for (const target of ["agent", "workspace-agent"] as const) {
    test(`${target}: user, entrypoint, command, environment, ports and files`, async () => {
      const s = stage(target);
      const archive = readArchive((await buildDockerfileImage(target)).path);
      assert.equal(archive.name, imageName(target, "0.1.0"));
      assert.equal(archive.config.User, user(s));
      assert.deepEqual(archive.config.Entrypoint, execForm(s, "ENTRYPOINT"));
      assert.deepEqual(archive.config.Cmd, execForm(s, "CMD"));
      const env = Object.fromEntries(
        archive.config.Env.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]),
      );
      assert.deepEqual(env, { ...DISTROLESS_NODE_ENV, ...envVars(s) });
      assert.deepEqual(Object.keys(archive.config.ExposedPorts ?? {}), ["8080/tcp"]);
      const workdir = archive.config.WorkingDir ?? "/";
      const entry = execForm(s, "ENTRYPOINT") as string[];
      for (const f of [entry[0]!, entry.at(-1)!, ...copies(s).map((c) => join(workdir, c.dest))]) {
        assert.ok(
          archive.files.some((p) => p.replace(/\/$/, "") === f.replace(/\/$/, "")),
          `${f} is not in the image`,
        );
      }
    });
  }

  test("a Dockerfile instruction the builder does not carry out fails the build, naming it", () => {
    const changed = dockerfileText.replace(
      /(FROM \$\{RUNTIME_IMAGE\} AS agent\n)/,
      "$1RUN echo this would run in a shell the image does not have\n",
    );
    assert.notEqual(changed, dockerfileText);
    const s = parseDockerfile(changed).stages.find((x) => x.name === "agent")!;
    assert.throws(
      () => stageConfig(s),
      /RUN \(line \d+\) is not carried out by test\/images\/dockerfile-image\.ts/,
    );
  });
});
