// Faults of the Kubernetes control plane: the API server and etcd restarted.
import { type Scenario, sleep } from "../scenario.ts";

export const clusterScenarios: Scenario[] = [
  {
    name: "kube-apiserver-restart",
    proves:
      "the API server stopped for 10 s and restarted: every watch breaks and resumes, nothing is deleted or recreated, the job never notices",
    async run(ctx) {
      await ctx.sys.components.kill("kube-apiserver", "SIGTERM");
      await sleep(10_000);
      await ctx.sys.components.start("kube-apiserver");
    },
  },
  {
    name: "etcd-sigkill-restart",
    proves:
      "etcd SIGKILLed and back after 10 s: the API server fails requests meanwhile, the agents back off and resume without deleting or recreating anything",
    async run(ctx) {
      await ctx.sys.components.kill("etcd", "SIGKILL");
      await sleep(10_000);
      await ctx.sys.components.start("etcd");
    },
  },
];
