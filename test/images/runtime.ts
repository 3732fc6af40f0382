// What an image runs, read from the root Dockerfile: its ENTRYPOINT (node, V8 flags, the bundle) and
// its ENV, translated to this machine (the repository's bundle, this process's Node 24). The node
// simulator starts the project's images this way and the benchmarks start the agents this way, so the
// runtime settings measured and tested are the ones the images ship, kept in one place.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type AgentName, agentBundle } from "@meridian/shared/build/bundle";
import { repoRoot } from "../cluster/paths.ts";
import { envVars, execForm, parseDockerfile } from "./dockerfile.ts";

export interface ImageRuntime {
  /** Flags between `node` and the script on the image's ENTRYPOINT. */
  nodeArgs: string[];
  /** The bundle in this checkout that the image's ENTRYPOINT runs. */
  script: string;
  /** The image's ENV (a pod's env overrides it, as with a container runtime). */
  env: Record<string, string>;
}

const NODE = "/nodejs/bin/node";

/** Reads the `target` stage of the root Dockerfile (or `dockerfileText`). */
export function imageRuntime(target: AgentName, dockerfileText?: string): ImageRuntime {
  const text = dockerfileText ?? readFileSync(join(repoRoot, "Dockerfile"), "utf8");
  const stage = parseDockerfile(text).stages.find((s) => s.name === target);
  if (!stage) throw new Error(`the Dockerfile has no stage ${target}`);
  const entrypoint = execForm(stage, "ENTRYPOINT");
  if (!Array.isArray(entrypoint) || entrypoint[0] !== NODE || entrypoint.length < 2) {
    throw new Error(`stage ${target}: ENTRYPOINT must be exec form ["${NODE}", ...flags, script]`);
  }
  const script = entrypoint.at(-1)!;
  const prefix = "/app/";
  if (!script.startsWith(prefix)) throw new Error(`stage ${target}: the script ${script} is not under /app`);
  return {
    nodeArgs: entrypoint.slice(1, -1),
    script: join(repoRoot, script.slice(prefix.length)),
    env: envVars(stage),
  };
}

/** The image's runtime with its bundle built from the current sources first. */
export async function builtImageRuntime(target: AgentName): Promise<ImageRuntime> {
  const runtime = imageRuntime(target);
  const bundle = await agentBundle(target);
  if (bundle !== runtime.script) {
    throw new Error(`stage ${target} runs ${runtime.script}, but the bundle is built to ${bundle}`);
  }
  return runtime;
}
