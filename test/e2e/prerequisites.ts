// What the whole system needs before it can start, and the command that provides each piece.
// Kept apart from system.ts so that checking does not load the control plane (and node:sqlite).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { assertFlinkHome, findJava, flinkHomeDir } from "../cluster/flink/image-handler.ts";
import { kubeBinDir, repoRoot } from "../cluster/paths.ts";

/** A piece the system needs that is not there yet, and how to get it. */
export interface MissingPiece {
  what: string;
  how: string;
}

/** Thrown when a piece is missing; the message starts with "not built yet:". */
export class NotBuiltError extends Error {
  readonly missing: MissingPiece[];
  constructor(missing: MissingPiece[]) {
    super(`not built yet: ${missing.map((m) => `${m.what} (${m.how})`).join("; ")}`);
    this.missing = missing;
  }
}

/** The pieces needed to start the cluster, simulator and Flink pods (not the agents: see agentPieces). */
export function missingInfrastructure(): MissingPiece[] {
  const missing: MissingPiece[] = [];
  try {
    kubeBinDir();
  } catch {
    missing.push({ what: "Kubernetes binaries", how: "bash test/cluster/build-kube.sh" });
  }
  try {
    assertFlinkHome(flinkHomeDir());
  } catch {
    missing.push({ what: `Flink runtime in ${flinkHomeDir()}`, how: "bash test/cluster/fetch-flink.sh" });
  }
  if (!existsSync(findJava()) && findJava() === "java") {
    missing.push({
      what: "a Java 17 runtime (java on PATH or JAVA_HOME)",
      how: "apt-get install openjdk-17-jre-headless",
    });
  }
  return missing;
}

/** The two agents' entry points the node simulator runs for the project's images. */
export function missingAgents(): MissingPiece[] {
  return [
    ["agent/src/main.ts", "the cluster agent"],
    ["workspace-agent/src/main.ts", "the workspace agent"],
  ]
    .filter(([path]) => !existsSync(join(repoRoot, path!)))
    .map(([path, what]) => ({ what: `${what} (${path})`, how: "being written; pull and retry" }));
}
