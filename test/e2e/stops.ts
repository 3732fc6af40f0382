// What a system start has started, stopped in reverse order exactly once, each failure logged and
// the rest still stopped.
import type { Logger } from "@meridian/shared/log";

export interface Stops {
  push(stop: () => Promise<void>): void;
  /** Stops everything pushed, newest first; every later call returns the same promise. */
  stopAll(): Promise<void>;
}

export function stops(logger: Logger): Stops {
  const list: Array<() => Promise<void>> = [];
  let stopping: Promise<void> | undefined;
  const run = async () => {
    for (const stop of list.reverse()) {
      try {
        await stop();
      } catch (err) {
        logger.warn({ err }, "stopping part of the system failed");
      }
    }
  };
  return {
    push: (stop) => void list.push(stop),
    stopAll: () => {
      stopping ??= run();
      return stopping;
    },
  };
}
