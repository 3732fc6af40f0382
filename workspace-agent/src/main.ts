#!/usr/bin/env node
// Entry point of the workspace agent container: `meridian-workspace-agent run|version`.
// Runs until SIGTERM/SIGINT, then stops everything it started and exits.
import { runProcessCli } from "@meridian/shared/process/cli";
import { startWorkspaceAgent } from "./agent.ts";
import { buildCli } from "./cli.ts";

/** How long a stop may take after SIGTERM before the process exits anyway (the pod grace period is 30 s). */
const FORCE_EXIT_MS = 20_000;

const cli = buildCli({
  run: async (config) => {
    // Signals are watched before start-up, which waits for the watch caches: a SIGTERM during a slow
    // start still stops cleanly. A second signal, or a stop that hangs, exits at once.
    let stopping = false;
    const signalled = new Promise<void>((resolve) => {
      const onSignal = () => {
        if (stopping) process.exit(1);
        stopping = true;
        setTimeout(() => process.exit(1), FORCE_EXIT_MS).unref();
        resolve();
      };
      process.on("SIGTERM", onSignal);
      process.on("SIGINT", onSignal);
    });
    const agent = await Promise.race([startWorkspaceAgent(config), signalled.then(() => undefined)]);
    if (!agent) process.exit(0);
    await signalled;
    await agent.stop();
  },
});

await runProcessCli(cli, process.argv);
