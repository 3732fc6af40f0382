// The whole catalogue of hostile inputs, by class (docs/reliability.md lists it).
import { deployments } from "./deployments.ts";
import { framing } from "./framing.ts";
import { http } from "./http.ts";
import { ids } from "./ids.ts";
import { json } from "./json.ts";
import type { HostileInput } from "./types.ts";
import { workspaces } from "./workspaces.ts";

export { deployments, framing, http, ids, json, workspaces };

export const catalogue: HostileInput[] = [
  ...framing,
  ...ids,
  ...json,
  ...workspaces,
  ...deployments,
  ...http,
];
