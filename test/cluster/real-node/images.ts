// The real node's own images (pause, CoreDNS), made from the built programs as single-layer OCI
// archives, and the import of any such archive into the node's containerd (namespace k8s.io, where
// the CRI looks), so pods run them with imagePullPolicy: Never. No registry is involved.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { type OciArchive, writeOciArchive } from "../../images/oci.ts";
import { Rootfs } from "../../images/rootfs.ts";
import { cacheDir } from "../paths.ts";
import { PAUSE_IMAGE } from "./config.ts";
import { CONTAINERD_SOCKET, type RealNodeBinaries } from "./layout.ts";

const run = promisify(execFile);

export const COREDNS_IMAGE = "meridian.local/coredns:1.15.0";

/** An archive for a one-program image, rebuilt only when the program changes. */
async function programImage(
  name: string,
  program: string,
  config: { user: string; entrypoint: string[]; cmd?: string[] },
): Promise<OciArchive> {
  const hash = createHash("sha256")
    .update(readFileSync(program))
    .update(JSON.stringify(config))
    .digest("hex");
  const out = join(
    cacheDir(),
    "real-node",
    "images",
    `${name.replace(/[/:]/g, "_")}-${hash.slice(0, 12)}.tar`,
  );
  if (existsSync(out)) return { name, path: out, digest: "" };
  const rootfs = await Rootfs.create("program");
  try {
    await rootfs.program(program, config.entrypoint[0]!);
    await rootfs.accounts();
    return await writeOciArchive({ name, rootfs: rootfs.dir, config: { ...config, env: {} }, out });
  } finally {
    await rootfs.remove();
  }
}

/** The sandbox image: the kubernetes module's pause.c, running as 65535 as upstream's does. */
export const pauseImage = (bins: RealNodeBinaries) =>
  programImage(PAUSE_IMAGE, bins.pause, { user: "65535:65535", entrypoint: ["/pause"] });

/** CoreDNS with the plugins coredns/main.go compiles in; non-root like upstream's image. */
export const corednsImage = (bins: RealNodeBinaries) =>
  programImage(COREDNS_IMAGE, bins.coredns, { user: "65532:65532", entrypoint: ["/coredns"] });

/** Imports an OCI archive into the real node's containerd, ready for the CRI. */
export async function importImage(bins: RealNodeBinaries, archive: OciArchive): Promise<void> {
  try {
    await run(
      bins.ctr,
      [
        "--address",
        CONTAINERD_SOCKET,
        "--namespace",
        "k8s.io",
        "images",
        "import",
        "--platform",
        "linux/amd64",
        archive.path,
      ],
      { maxBuffer: 16 * 1024 * 1024 },
    );
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? "";
    throw new Error(
      `importing ${archive.name} from ${archive.path} into the real node failed: ${stderr.trim()}`,
      {
        cause: err,
      },
    );
  }
}
