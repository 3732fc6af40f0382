// The node simulator's pluggable image map: which container images run as which
// local processes. An entry matches an image reference and turns a container
// (with its kubelet-resolved env, pod IP and volume directories) into a command.
// Images no entry matches still "run": the simulator marks them running without
// a process and annotates the pod `meridian.dev/simulated: "true"`.

import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { V1Container, V1Pod } from "@kubernetes/client-node";

export interface ContainerContext {
  pod: V1Pod;
  /** The container with `$(VAR)` references in command and args already expanded. */
  container: V1Container;
  /**
   * The container's environment as a kubelet would build it, plus KUBERNETES_SERVICE_HOST/PORT,
   * KUBECONFIG (unless automountServiceAccountToken is false), HOSTNAME, HOME (the pod dir),
   * PATH (Node 24 first), MERIDIAN_HOSTS_FILE and NODE_OPTIONS loading the hosts preload.
   */
  env: Record<string, string>;
  podIP: string;
  podDir: string;
  /** mountPath -> local dir (or file, for subPath mounts) holding the volume's files. */
  volumeDirs: Record<string, string>;
  /** Kubeconfig for the pod's ServiceAccount (a TokenRequest token, refreshed by rewriting the file). */
  kubeconfigPath: string;
  /** The simulator's hosts file: Service and pod names -> pod IPs. */
  hostsFile: string;
}

export interface ContainerLaunch {
  command: string;
  args: string[];
  /** The child's complete environment (nothing else is inherited). */
  env: Record<string, string>;
  cwd?: string;
}

export interface ImageMapEntry {
  name: string;
  matches(image: string): boolean;
  launch(ctx: ContainerContext): ContainerLaunch | Promise<ContainerLaunch>;
}

/** Strips `docker.io/` and `library/` so `busybox` and `docker.io/library/busybox` compare equal. */
export function normalizeImage(image: string): string {
  return image.replace(/^(docker\.io|index\.docker\.io)\//, "").replace(/^library\//, "");
}

/**
 * Glob match of an image reference: `*` matches any run of characters. A pattern
 * without a tag or digest (`busybox`) also matches every tag of that repository.
 */
export function imageMatches(pattern: string, image: string): boolean {
  const p = normalizeImage(pattern);
  const img = normalizeImage(image);
  const re = new RegExp(`^${p.split("*").map(escapeRegExp).join(".*")}$`);
  if (re.test(img)) return true;
  const repo = img.replace(/@sha256:[0-9a-f]+$/, "").replace(/:[^/:]+$/, "");
  return re.test(repo);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
}

function matcher(patterns: string | string[]): (image: string) => boolean {
  const list = Array.isArray(patterns) ? patterns : [patterns];
  return (image) => list.some((p) => imageMatches(p, image));
}

/** The first entry that matches `image`, or undefined. */
export function findImageEntry(map: readonly ImageMapEntry[], image: string): ImageMapEntry | undefined {
  return map.find((e) => e.matches(image));
}

export interface EntryPointOptions {
  /**
   * Rewrite arguments and env values that start with a volume mount path to the volume's
   * local dir, so `--policy-file=/etc/meridian/policy.yaml` reads the mounted ConfigMap. Default true.
   */
  rewriteMountPaths?: boolean;
  /** The entry's name when `program` is a function. */
  name?: string;
}

/** What an image's entry point runs: `node <nodeArgs> <script>`, with the image's ENV. */
export interface NodeProgram {
  script: string;
  nodeArgs?: string[];
  /** The image's ENV; the container's env overrides it. */
  env?: Record<string, string>;
}

/**
 * Maps an image (e.g. `ghcr.io/meridian-dev/meridian-agent`, any tag) to
 * `node <nodeArgs> <script> <container args>` on this process's Node 24. The container's
 * `command` (the image entrypoint override) is ignored: the script is the entrypoint.
 * `program` is a script path, or a function that produces the program (e.g. reads the image's
 * ENTRYPOINT and builds its bundle first).
 */
export function nodeEntryPoint(
  imagePattern: string | string[],
  program: string | (() => Promise<NodeProgram>),
  opts: EntryPointOptions = {},
): ImageMapEntry {
  const rewrite = opts.rewriteMountPaths ?? true;
  return {
    name: `node ${typeof program === "string" ? program : (opts.name ?? "script")}`,
    matches: matcher(imagePattern),
    launch: async (ctx) => {
      const p: NodeProgram = typeof program === "string" ? { script: program } : await program();
      const launch = {
        command: process.execPath,
        args: [...(p.nodeArgs ?? []), p.script, ...(ctx.container.args ?? [])],
        env: { ...p.env, ...ctx.env },
        cwd: ctx.podDir,
      };
      return rewrite ? withMountPaths(launch, ctx) : launch;
    },
  };
}

export interface GenericCommandOptions {
  /** Images to match; default `busybox` (any tag) and `sim/shell:*`. */
  images?: string | string[];
  /** As for nodeEntryPoint: `cat /etc/config/key` reads the mounted ConfigMap. Default true. */
  rewriteMountPaths?: boolean;
}

/**
 * Runs the container's `command` + `args` as a local process (the host's /bin/sh and
 * tools; `node` is this Node 24). Like busybox (no ENTRYPOINT, CMD ["sh"]): `args` without a `command`
 * replace the CMD, and neither means `sh`.
 */
export function genericCommand(opts: GenericCommandOptions = {}): ImageMapEntry {
  const images = opts.images ?? ["busybox", "sim/shell:*", "sim/shell"];
  const rewrite = opts.rewriteMountPaths ?? true;
  return {
    name: "generic command",
    matches: matcher(images),
    launch: (ctx) => {
      // Like busybox: no ENTRYPOINT and CMD ["sh"], so `args` alone replace the CMD (kubectl run -- sh -c …).
      const command = ctx.container.command ?? [];
      const args = ctx.container.args ?? [];
      const argv = command.length > 0 ? [...command, ...args] : args.length > 0 ? args : ["sh"];
      const launch = { command: argv[0]!, args: argv.slice(1), env: ctx.env, cwd: ctx.podDir };
      return rewrite ? withMountPaths(launch, ctx) : launch;
    },
  };
}

/**
 * The launch with mount paths in its args and env values replaced by local dirs. Paths already
 * inside the simulator's directory (the pod dir, KUBECONFIG, the hosts file) are left alone, so a
 * mount at `/tmp` does not rewrite a HOME of `/tmp/.../pods/x`.
 */
export function withMountPaths(
  launch: ContainerLaunch,
  ctx: Pick<ContainerContext, "volumeDirs" | "hostsFile" | "podDir">,
): ContainerLaunch {
  // Our own files are host paths, not container paths: a checkout under /tmp must not be rewritten into
  // a pod's /tmp emptyDir (CI clones can live there).
  const keep = [dirname(ctx.hostsFile), ctx.podDir, REPOSITORY_ROOT, NODE_BIN_DIR];
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(launch.env)) env[k] = rewriteMountPaths(v, ctx.volumeDirs, keep);
  return { ...launch, args: launch.args.map((a) => rewriteMountPaths(a, ctx.volumeDirs, keep)), env };
}

/**
 * Replaces mount paths in `text` (at a word start, followed by `/` or a word end) by their local
 * dirs, except where the text at that point starts with one of `keep`.
 */
export function rewriteMountPaths(
  text: string,
  volumeDirs: Record<string, string>,
  keep: string[] = [],
): string {
  const mounts = Object.keys(volumeDirs)
    .filter((m) => m !== "/" && m !== "")
    .sort((a, b) => b.length - a.length);
  if (mounts.length === 0) return text;
  const re = new RegExp(`(^|[\\s='"(:,])(${mounts.map(escapeRegExp).join("|")})(?=$|[/\\s'")*;:,])`, "g");
  return text.replace(re, (whole, pre: string, mount: string, offset: number) => {
    const at = offset + pre.length;
    if (keep.some((k) => k && text.startsWith(k, at))) return whole;
    return pre + volumeDirs[mount];
  });
}

/** The checkout this harness runs from (host paths under it are never container paths). */
const REPOSITORY_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** The directory of this process's Node binary, put first on children's PATH. */
export const NODE_BIN_DIR = dirname(process.execPath);
