// Single-layer OCI image archives built without a container engine or a registry: a root file
// system staged in a directory is packed with tar (sorted, fixed mtime, owned by root), every blob
// is named by its sha256, and the OCI image layout is packed into one tar that
// `ctr -n k8s.io images import` takes. Pods run such images with imagePullPolicy: Never.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** What the image runs: the fields of an OCI image config's `config` that Meridian's images set. */
export interface ImageConfig {
  user?: string;
  env: Record<string, string>;
  entrypoint?: string[];
  cmd?: string[];
  workingDir?: string;
  labels?: Record<string, string>;
  /** "8080/tcp" */
  exposedPorts?: string[];
}

export interface OciArchive {
  /** The image reference recorded in the archive (io.containerd.image.name). */
  name: string;
  path: string;
  /** The manifest digest, sha256:<hex>. */
  digest: string;
}

const TAR_FLAGS = ["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "--format=gnu"];

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

async function tar(args: string[]): Promise<void> {
  try {
    await run("tar", args, { maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? "";
    throw new Error(`tar ${args.join(" ")} failed (GNU tar is needed): ${stderr.trim()}`, { cause: err });
  }
}

/** The OCI config JSON (image-spec config.json) for a single-layer linux/amd64 image. */
export function ociConfig(config: ImageConfig, diffId: string): Record<string, unknown> {
  return {
    architecture: "amd64",
    os: "linux",
    config: {
      User: config.user,
      Env: Object.entries(config.env).map(([k, v]) => `${k}=${v}`),
      Entrypoint: config.entrypoint,
      Cmd: config.cmd,
      WorkingDir: config.workingDir,
      Labels: config.labels,
      ExposedPorts: config.exposedPorts
        ? Object.fromEntries(config.exposedPorts.map((p) => [p, {}]))
        : undefined,
    },
    rootfs: { type: "layers", diff_ids: [`sha256:${diffId}`] },
    history: [{ created_by: "meridian test/images/oci.ts" }],
  };
}

/**
 * Packs `rootfs` as the one layer of image `name` into the OCI archive `out`. The archive is
 * written beside `out` and renamed into place, so a reader never sees half an archive.
 */
export async function writeOciArchive(opts: {
  name: string;
  rootfs: string;
  config: ImageConfig;
  out: string;
}): Promise<OciArchive> {
  await mkdir(dirname(opts.out), { recursive: true });
  const layout = await mkdtemp(`${opts.out}.layout-`);
  try {
    const blobs = join(layout, "blobs", "sha256");
    await mkdir(blobs, { recursive: true });
    const layerTmp = join(layout, "layer.tar");
    await tar(["-cf", layerTmp, ...TAR_FLAGS, "-C", opts.rootfs, "."]);
    const layerDigest = await sha256File(layerTmp);
    const layerSize = (await stat(layerTmp)).size;
    await rename(layerTmp, join(blobs, layerDigest));

    const putJson = async (value: unknown) => {
      const bytes = Buffer.from(JSON.stringify(value));
      const digest = createHash("sha256").update(bytes).digest("hex");
      await writeFile(join(blobs, digest), bytes);
      return { digest: `sha256:${digest}`, size: bytes.length };
    };
    const config = await putJson(ociConfig(opts.config, layerDigest));
    const manifest = await putJson({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
      layers: [
        {
          mediaType: "application/vnd.oci.image.layer.v1.tar",
          digest: `sha256:${layerDigest}`,
          size: layerSize,
        },
      ],
    });
    const index = {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          ...manifest,
          platform: { architecture: "amd64", os: "linux" },
          annotations: {
            "io.containerd.image.name": opts.name,
            "org.opencontainers.image.ref.name": opts.name.slice(opts.name.lastIndexOf(":") + 1),
          },
        },
      ],
    };
    await writeFile(join(layout, "index.json"), JSON.stringify(index));
    await writeFile(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    const tmp = `${opts.out}.tmp`;
    await tar(["-cf", tmp, ...TAR_FLAGS, "-C", layout, "oci-layout", "index.json", "blobs"]);
    await rename(tmp, opts.out);
    return { name: opts.name, path: opts.out, digest: manifest.digest };
  } finally {
    await rm(layout, { recursive: true, force: true });
  }
}
