// Faults of the control plane (the reference control plane, a process of its own).
import { type Scenario, sleep } from "../scenario.ts";

export const controlPlaneScenarios: Scenario[] = [
  {
    name: "control-plane-sigkill-restart",
    proves:
      "a control plane SIGKILLed and back 15 s later changes nothing in the cluster; both agents reconnect, resync and report again",
    bounded: true,
    async run(ctx) {
      await ctx.sys.cp.kill("SIGKILL");
      await sleep(15_000);
      await ctx.sys.cp.start();
    },
  },
];
