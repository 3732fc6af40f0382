// Checks one HTTP input of the catalogue while the hostile control plane answers its route with it:
// the requests the agent makes to that route within the input's window (it keeps trying, never in a
// tight loop) and the log line naming the failure. The caller checks what holds for every input
// (health, nothing changed in the cluster, no token logged).
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { waitFor } from "../../agent/harness.ts";
import type { HostileRequest, HostileServer, Route } from "../server.ts";
import type { HttpInput, HttpRoute } from "./types.ts";

export const ROUTES: Record<HttpRoute, Route> = {
  stream: { method: "GET", path: /\/stream$/ },
  status: { method: "POST", path: /\/status$/ },
  credentials: { method: "POST", path: /\/credentials$/ },
};

const matches = (route: Route, r: HostileRequest) =>
  (!route.method || route.method === r.method) &&
  (typeof route.path === "string" ? route.path === r.path : route.path.test(r.path));

export interface HttpCheck {
  hostile: HostileServer;
  logs: string[];
  /** Only requests from this sequence number on, and log lines from this index on, count. */
  sinceSeq: number;
  sinceLog: number;
  /** Narrows the route further (e.g. to one workspace's credential path). */
  only?: (r: HostileRequest) => boolean;
}

/** Scripts `input` on its route (narrowed by `route`, if given). */
export function scriptInput(
  hostile: HostileServer,
  input: HttpInput,
  route: Route = ROUTES[input.route],
): void {
  hostile.script(route, input.answers());
}

/** Waits out the input's window and checks its requests and its log line. */
export async function checkHttpInput(c: HttpCheck, input: HttpInput): Promise<void> {
  const label = `http/${input.name}`;
  const { windowMs, min, max, log } = input.expect;
  const route = ROUTES[input.route];
  const requests = () =>
    c.hostile.requests.filter((r) => r.seq >= c.sinceSeq && matches(route, r) && (c.only?.(r) ?? true));
  const first = await waitFor(`${label}: a first request`, () => requests()[0], 20_000);
  await sleep(Math.max(0, first.at + windowMs - Date.now()));
  const n = requests().filter((r) => r.at <= first.at + windowMs).length;
  assert.ok(
    n >= min,
    `${label}: ${n} requests in ${windowMs} ms, expected at least ${min} (it keeps trying)`,
  );
  assert.ok(n <= max, `${label}: ${n} requests in ${windowMs} ms, expected at most ${max} (no tight loop)`);
  if (!log) return;
  const lines = () =>
    c.logs
      .slice(c.sinceLog)
      .map((l) => JSON.parse(l) as { msg?: string; reason?: string })
      .filter((l) => log.msg.test(l.msg ?? ""));
  const line = await waitFor(`${label}: a log line ${log.msg}`, () =>
    lines().find((l) => log.reason.test(l.reason ?? "")),
  ).catch(() =>
    assert.fail(
      `${label}: no log line ${log.msg} with a reason ${log.reason}; reasons: ${JSON.stringify(lines().map((l) => l.reason?.slice(0, 300)))}`,
    ),
  );
  assert.ok(
    (line.reason ?? "").length <= 2000,
    `${label}: the reason is short (${line.reason?.length} characters)`,
  );
}
