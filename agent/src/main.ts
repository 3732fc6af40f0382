#!/usr/bin/env node
import { createLogger } from "@meridian/shared/log";
import { runProcessCli } from "@meridian/shared/process/cli";
// Entry point of the agent image: `meridian-agent run|version`. Loads the configuration once
// (exit 2 on a bad setting), starts the agent, and stops it gracefully on SIGTERM/SIGINT
// (releasing the Lease so a standby takes over at once).
import { PROCESS_AGENT } from "@meridian/shared/process/identity";
import { startAgent } from "./agent.ts";
import { buildCli } from "./cli.ts";

const program = buildCli({
  run: async (config) => {
    const logger = createLogger({ component: PROCESS_AGENT, level: config.logLevel });
    // A bug, not a condition to survive: say so on one JSON line and let Kubernetes restart us.
    process.on("unhandledRejection", (err) => {
      logger.fatal({ err }, "unhandled promise rejection; exiting");
      logger.flush();
      process.exit(1);
    });
    let agent: Awaited<ReturnType<typeof startAgent>>;
    try {
      agent = await startAgent(config, { logger });
    } catch (err) {
      logger.fatal({ err }, "meridian-agent could not start");
      logger.flush();
      process.exit(1);
    }
    const shutdown = (signal: string) => {
      logger.info({ reason: signal }, "stopping");
      const force = setTimeout(() => process.exit(1), 20_000);
      force.unref();
      void agent.stop({ release: true }).then(() => {
        logger.flush();
        process.exit(0);
      });
    };
    process.once("SIGTERM", () => shutdown("SIGTERM"));
    process.once("SIGINT", () => shutdown("SIGINT"));
  },
});

await runProcessCli(program, process.argv);
