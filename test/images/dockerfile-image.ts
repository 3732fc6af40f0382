// The agent images for the real node, built by carrying out the root Dockerfile's final stage
// (WORKDIR, ENV, COPY, USER, EXPOSE, LABEL, ENTRYPOINT, CMD) on an equivalent of its base image,
// so the Dockerfile stays the one source of what the images run. The base,
// gcr.io/distroless/nodejs24-debian12, cannot be pulled here (no registry but the package
// registries); its equivalent is assembled from registry packages: Node 24 from the npm `node`
// package at /nodejs/bin/node, the glibc it loads and the CA bundle from this Debian 12 machine,
// distroless's accounts (root, nobody, nonroot 65532), its PATH and SSL_CERT_FILE. The build stage's
// `node shared/build/bundle.ts` is the same bundler run here (agentBundle). An instruction this
// builder does not know fails the build, so the Dockerfile cannot drift from it unnoticed.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type AgentName, agentBundle } from "@meridian/shared/build/bundle";
import { cacheDir, repoRoot } from "../cluster/paths.ts";
import {
  copies,
  envVars,
  execForm,
  type Instruction,
  labels,
  parseDockerfile,
  type Stage,
} from "./dockerfile.ts";
import { type ImageConfig, type OciArchive, writeOciArchive } from "./oci.ts";
import { Rootfs } from "./rootfs.ts";

/** What distroless's nodejs24-debian12 sets in its config (`docker inspect`), which USER/ENV override. */
export const DISTROLESS_NODE_ENV: Record<string, string> = {
  PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  SSL_CERT_FILE: "/etc/ssl/certs/ca-certificates.crt",
};
const NODE_IN_IMAGE = "/nodejs/bin/node";
const BUILD_STAGE_WORKDIR = "/app";
const HANDLED = new Set(["ARG", "LABEL", "WORKDIR", "ENV", "COPY", "USER", "EXPOSE", "ENTRYPOINT", "CMD"]);

export function dockerfileStage(target: AgentName, text?: string): Stage {
  const df = parseDockerfile(text ?? readFileSync(join(repoRoot, "Dockerfile"), "utf8"));
  const stage = df.stages.find((s) => s.name === target);
  if (!stage) throw new Error(`the Dockerfile has no stage ${target}`);
  return stage;
}

/** The stage's ARG defaults (ARG NAME=default), which LABEL values refer to. */
function stageArgs(stage: Stage, overrides: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const i of stage.instructions.filter((x) => x.keyword === "ARG")) {
    const [name, value] = i.rest.split("=", 2);
    out[name!.trim()] = (value ?? "").trim().replace(/^"(.*)"$/, "$1");
  }
  return { ...out, ...overrides };
}

const expand = (s: string, args: Record<string, string>) =>
  s.replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, a?: string, b?: string) => args[(a ?? b)!] ?? "");

/** The image config the stage describes (its own ENV over distroless's). */
export function stageConfig(stage: Stage, args: Record<string, string> = {}): ImageConfig {
  const unknown = stage.instructions.filter((i: Instruction) => !HANDLED.has(i.keyword));
  if (unknown.length > 0) {
    throw new Error(
      `Dockerfile stage ${stage.name}: ${unknown.map((i) => `${i.keyword} (line ${i.line})`).join(", ")} ` +
        "is not carried out by test/images/dockerfile-image.ts; teach it there",
    );
  }
  const last = (k: string) => stage.instructions.filter((i) => i.keyword === k).at(-1)?.rest;
  const entrypoint = execForm(stage, "ENTRYPOINT");
  const cmd = execForm(stage, "CMD");
  if (!Array.isArray(entrypoint) || (cmd !== undefined && !Array.isArray(cmd))) {
    throw new Error(
      `Dockerfile stage ${stage.name}: ENTRYPOINT and CMD must be exec form (no shell in the image)`,
    );
  }
  const env: Record<string, string> = { ...DISTROLESS_NODE_ENV, ...envVars(stage) };
  const all = stageArgs(stage, args);
  return {
    user: last("USER"),
    env,
    entrypoint,
    cmd,
    workingDir: last("WORKDIR"),
    labels: Object.fromEntries(Object.entries(labels(stage)).map(([k, v]) => [k, expand(v, all)])),
    exposedPorts: stage.instructions
      .filter((i) => i.keyword === "EXPOSE")
      .flatMap((i) => i.rest.split(/\s+/))
      .map((p) => (p.includes("/") ? p : `${p}/tcp`)),
  };
}

/** The image reference the chart deploys for `target` at `version`. */
export function imageName(target: AgentName, version: string): string {
  return `ghcr.io/meridian-dev/meridian-${target}:${version}`;
}

/** Builds `target`'s image from the current sources into an OCI archive under the cache. */
export async function buildDockerfileImage(target: AgentName, version = "0.1.0"): Promise<OciArchive> {
  const stage = dockerfileStage(target);
  const config = stageConfig(stage, { VERSION: version });
  await agentBundle(target);
  const rootfs = await Rootfs.create(target);
  try {
    await rootfs.program(join(repoRoot, "node_modules", "node", "bin", "node"), NODE_IN_IMAGE);
    await rootfs.copy("/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/certs/ca-certificates.crt");
    await rootfs.accounts();
    const workdir = config.workingDir ?? "/";
    await rootfs.directory(workdir);
    for (const c of copies(stage)) {
      const dest = c.dest.startsWith("/") ? c.dest : join(workdir, c.dest);
      for (const src of c.sources) {
        if (c.from === undefined) {
          await rootfs.copy(
            join(repoRoot, src),
            c.dest.endsWith("/") ? join(dest, src.split("/").at(-1)!) : dest,
          );
        } else {
          // The build stage works in /app on a copy of the repository: its /app/<x> is <repo>/<x>.
          if (!src.startsWith(`${BUILD_STAGE_WORKDIR}/`)) {
            throw new Error(
              `COPY --from=${c.from} ${src} (line ${c.line}) is not under ${BUILD_STAGE_WORKDIR}`,
            );
          }
          await rootfs.copy(join(repoRoot, src.slice(BUILD_STAGE_WORKDIR.length + 1)), dest);
        }
      }
    }
    const name = imageName(target, version);
    const out = join(cacheDir(), "real-node", "images", `${target}-${version}.tar`);
    return await writeOciArchive({ name, rootfs: rootfs.dir, config, out });
  } finally {
    await rootfs.remove();
  }
}
