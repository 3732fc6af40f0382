// The whole system with a real node instead of the node simulator (`npm run demo -- --real-node`):
// the local cluster with its real node (kubelet, containerd, runc, CNI, kube-proxy, CoreDNS), the
// agent, workspace-agent and Flink images built and imported, and the reference control plane on the
// node's bridge address, the only host address pods reach.
import { silentLogger } from "@meridian/shared/log";
import { startCluster } from "../cluster/index.ts";
import { GATEWAY_IP } from "../cluster/real-node/layout.ts";
import { startControlPlane } from "../control-plane/index.ts";
import { buildDockerfileImage } from "../images/dockerfile-image.ts";
import { buildFlinkImage } from "../images/flink-image.ts";
import { realNodeOf } from "../real-node/real-node.ts";
import { missingInfrastructure, NotBuiltError } from "./prerequisites.ts";
import { stops } from "./stops.ts";
import type { System, SystemOptions } from "./system.ts";

export type RealNodeSystem = Pick<System, "cluster" | "cp" | "stop">;

export async function startRealNodeSystem(opts: SystemOptions): Promise<RealNodeSystem> {
  const missing = missingInfrastructure();
  if (missing.length > 0) throw new NotBuiltError(missing);
  const logger = opts.logger ?? silentLogger();
  const cluster = await startCluster({ nodes: 0, realNode: true, logger, logDir: opts.clusterLogDir });
  const started = stops(logger);
  started.push(() => cluster.stop());
  try {
    opts.onReady?.("cluster");
    const node = realNodeOf(cluster);
    for (const image of [
      await buildDockerfileImage("agent"),
      await buildDockerfileImage("workspace-agent"),
      await buildFlinkImage(),
    ])
      await node.importImage(image);
    opts.onReady?.("real node");
    const cp = await startControlPlane({
      dbPath: opts.dbPath,
      host: GATEWAY_IP,
      port: opts.controlPlanePort ?? 0,
      logger: opts.controlPlaneLogger,
    }).catch((err: Error) => {
      if (!opts.controlPlanePortFallback || !opts.controlPlanePort) throw err;
      return startControlPlane({
        dbPath: opts.dbPath,
        host: GATEWAY_IP,
        port: 0,
        logger: opts.controlPlaneLogger,
      });
    });
    started.push(() => cp.stop());
    opts.onReady?.("control plane");
    return {
      cluster,
      cp,
      stop: started.stopAll,
    };
  } catch (err) {
    await started.stopAll();
    throw err;
  }
}
