// Where the local cluster's binaries and state live. Everything built or cached sits under
// <repo>/.cache (git-ignored), overridable with MERIDIAN_CACHE.
import { accessSync, constants, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

/** The repository root (/work/main in the dev container). */
export const repoRoot = resolve(here, "../..");

/** The cache root: $MERIDIAN_CACHE or <repo>/.cache. */
export function cacheDir(): string {
  return process.env.MERIDIAN_CACHE ? resolve(process.env.MERIDIAN_CACHE) : join(repoRoot, ".cache");
}

/** The pinned Kubernetes version, e.g. "v1.35.4" (test/cluster/kube-version). */
export function kubeVersion(): string {
  return readFileSync(join(here, "kube-version"), "utf8").trim();
}

export const KUBE_BINARIES = [
  "etcd",
  "kube-apiserver",
  "kube-controller-manager",
  "kube-scheduler",
  "kubectl",
] as const;
export type KubeBinary = (typeof KUBE_BINARIES)[number];

/**
 * The directory holding the built etcd, kube-apiserver, kube-controller-manager, kube-scheduler
 * and kubectl for the pinned version. Throws, saying how to build them, if any is missing.
 */
export function kubeBinDir(): string {
  const version = kubeVersion();
  const dir = join(cacheDir(), "kubernetes", version);
  const missing = KUBE_BINARIES.filter((b) => {
    try {
      accessSync(join(dir, b), constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) {
    throw new Error(
      `Kubernetes ${version} binaries missing in ${dir} (${missing.join(", ")}): ` +
        "run bash test/cluster/build-kube.sh (a cold build takes 20-40 minutes on 2 cores)",
    );
  }
  return dir;
}

/** Where `npm run cluster -- up` keeps its state file, stable kubeconfig and serve log. */
export function cliStateDir(): string {
  return join(cacheDir(), "cluster");
}
