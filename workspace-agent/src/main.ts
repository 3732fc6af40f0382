#!/usr/bin/env node
// Entry point of the workspace agent container: `meridian-workspace-agent run|version`.
// Runs until SIGTERM/SIGINT, then stops everything it started and exits.
import { CommanderError } from "commander";
import { startWorkspaceAgent } from "./agent.ts";
import { buildCli } from "./cli.ts";

const cli = buildCli({
  run: async (config) => {
    const agent = await startWorkspaceAgent(config);
    await new Promise<void>((resolve) => {
      const onSignal = () => resolve();
      process.once("SIGTERM", onSignal);
      process.once("SIGINT", onSignal);
    });
    await agent.stop();
  },
});

try {
  await cli.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exitCode = err.exitCode;
  else {
    process.stderr.write(`meridian-workspace-agent: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  }
}
