// The image map used when a caller passes none (e.g. startCluster({ nodes })): the
// project's own images run the project's own entry points (docs/CONVENTIONS.md,
// "Contracts between the parts"), busybox and sim/shell run shell commands.
import { fileURLToPath } from "node:url";
import { builtImageRuntime } from "../../images/runtime.ts";
import { flinkImageHandler } from "../flink/image-handler.ts";
import { genericCommand, type ImageMapEntry, nodeEntryPoint } from "./image-map.ts";

export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const AGENT_IMAGE = "ghcr.io/meridian-dev/meridian-agent";
export const WORKSPACE_AGENT_IMAGE = "ghcr.io/meridian-dev/meridian-workspace-agent";

/** `extra` entries come first, so they win over the defaults. */
export function defaultImageMap(extra: ImageMapEntry[] = []): ImageMapEntry[] {
  return [
    ...extra,
    // The images run what their Dockerfile stage says (ENTRYPOINT flags, ENV, the bundle), with the
    // bundle built from the current sources (test/images/runtime.ts).
    nodeEntryPoint(AGENT_IMAGE, () => builtImageRuntime("agent"), { name: "agent/dist/main.js" }),
    nodeEntryPoint(WORKSPACE_AGENT_IMAGE, () => builtImageRuntime("workspace-agent"), {
      name: "workspace-agent/dist/main.js",
    }),
    flinkImageHandler(),
    genericCommand(),
  ];
}
