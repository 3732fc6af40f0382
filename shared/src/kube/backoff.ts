// Moved to shared/src/backoff.ts (the one back-off). This re-export only keeps agent/src/workspaces.ts
// loading until its port onto shared/src/controller/ lands; delete it then. Import
// `@meridian/shared/backoff` instead.
export { type BackoffPolicy, backoffDelay, sleep } from "../backoff.ts";
