// What every request handler of the reference control plane works with.
import type { Logger } from "@meridian/shared/log";
import type { Change } from "./change-log.ts";
import type { RequestFaults } from "./faults.ts";
import type { SseHub } from "./sse-hub.ts";
import type { Store } from "./store.ts";

export interface ServerContext {
  store: Store;
  hub: SseHub;
  log: Logger;
  requestFaults: RequestFaults;
  workspaceTokenTtlSeconds: number;
  /** When set, every /admin request must carry it as a bearer token. */
  adminToken: string | undefined;
}

/** Sends freshly committed changes to the open streams they belong to. */
export function publishChanges(ctx: ServerContext, changes: Array<Change | undefined>): void {
  for (const c of changes) {
    if (c) ctx.hub.publish(c.stream, c.target, { id: String(c.seq), type: c.type, data: c.data });
  }
}
