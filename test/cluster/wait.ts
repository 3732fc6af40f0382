// Waiting for a started component to answer, failing fast (with its log) if one of the processes
// being started dies meanwhile, and with every log's tail on time-out.
import { type ComponentProcess, tailFile } from "./process.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every `pollMs` until it returns true; `whole` names what is starting ("local cluster"). */
export async function waitForComponents(
  whole: string,
  what: string,
  check: () => Promise<boolean>,
  watched: ComponentProcess[],
  deadline: number,
  pollMs: number,
): Promise<void> {
  for (;;) {
    const dead = watched.find((c) => !c.running);
    if (dead) throw new Error(`${whole} failed to start: ${await dead.describeExit()}`);
    try {
      if (await check()) return;
    } catch {
      // not answering yet
    }
    if (Date.now() > deadline) {
      const tails = await Promise.all(
        watched.map(async (c) => `--- ${c.name} (${c.logPath}):\n${await tailFile(c.logPath, 15)}`),
      );
      throw new Error(`${whole} failed to start: timed out waiting for ${what}\n${tails.join("\n")}`);
    }
    await sleep(pollMs);
  }
}
