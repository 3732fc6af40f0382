// The catalogue's hostile answers to credential requests (test/hostile/catalogue/http.ts), against a
// real agent on the real local cluster: each new workspace's credential request is answered with one
// of them. Each is refused with its reason in a log line and retried with backoff, never in a tight
// loop; no credential Secret is written from it (nothing else of the cluster changes but the
// workspace's own objects), the agent stays healthy, a good workspace then converges with a good
// credential, and no token reaches a log line.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { waitFor } from "../agent/harness.ts";
import { type AgentTarget, startAgentTarget } from "./catalogue/agent-target.ts";
import { workspace } from "./catalogue/bytes.ts";
import { checkHttpInput, scriptInput } from "./catalogue/http-runner.ts";
import { http } from "./catalogue/index.ts";
import { diff, type Inventory, inventory } from "./inventory.ts";
import { event } from "./server.ts";

let t: AgentTarget;
/** The cluster before the first credential input. */
let start: Inventory;
before(async () => {
  t = await startAgentTarget();
  start = t.baseline;
});
after(() => t?.stop());

const credentials = http.filter((i) => i.route === "credentials");

credentials.forEach((input, i) => {
  const id = `cred-${i + 1}`;
  test(`${input.name}: refused and retried with backoff; no credential Secret written`, async () => {
    const check = {
      hostile: t.hostile,
      logs: t.logs,
      sinceSeq: t.hostile.requests.length,
      sinceLog: t.logs.length,
      only: (r: { path: string }) => r.path.includes(`/workspaces/${id}/`),
    };
    scriptInput(t.hostile, input, { method: "POST", path: new RegExp(`/workspaces/${id}/credentials$`) });
    const last = BigInt(t.status()?.lastEventId ?? "100");
    const stream = await t.hostile.nextStream({ existing: true });
    await stream.send(
      event({ id: (last + 1n).toString(), event: "workspace.upsert", data: { workspace: workspace(id) } }),
    );
    await checkHttpInput(check, input);
    const reported = await waitFor(`${id}: CredentialUnavailable reported`, () =>
      t
        .status()
        ?.items.find((w) => w.key === id && w.conditions.some((c) => c.reason === "CredentialUnavailable")),
    );
    assert.match(
      reported.conditions.find((c) => c.type === "SpecAligned")?.message ?? "",
      input.expect.log?.reason ?? /./,
      "the reason reported upward",
    );
    await t.idle();
    checkCluster(await inventory(t.admin));
    assert.equal((await fetch(`${t.healthUrl}/healthz`)).status, 200, "/healthz");
  });
});

test("a good workspace then converges with a good credential", async () => {
  const id = "good-after-credentials";
  const last = BigInt(t.status()?.lastEventId ?? "100");
  const stream = await t.hostile.nextStream({ existing: true });
  await stream.send(
    event({ id: (last + 1n).toString(), event: "workspace.upsert", data: { workspace: workspace(id) } }),
  );
  await waitFor(`${id} applied`, () =>
    t
      .status()
      ?.items.find(
        (w) => w.key === id && w.conditions.some((c) => c.type === "SpecAligned" && c.status === "True"),
      ),
  );
  await waitFor("its credential Secret", () =>
    t.admin.getOrUndefined(`/api/v1/namespaces/mw-${id}/secrets/meridian-workspace-credential`),
  );
  await t.idle();
  checkCluster(await inventory(t.admin), id);
});

/**
 * Since the start, only the credential workspaces' objects (never a credential Secret: every answer
 * was refused) and `good`'s were added or changed; nothing was removed.
 */
function checkCluster(now: Inventory, good?: string): void {
  const changes = diff(start, now);
  const ours = (k: string) =>
    /(^|\/)mw-cred-\d+(\/|$)/.test(k) || (good !== undefined && k.includes(`mw-${good}`));
  assert.deepEqual(changes.removed, [], "nothing removed");
  assert.deepEqual(
    [...changes.added, ...changes.changed].filter((k) => !ours(k)),
    [],
    "nothing else added or changed",
  );
  assert.deepEqual(
    changes.added.filter((k) => /^secrets\/mw-cred-/.test(k)),
    [],
    "no credential Secret written",
  );
}

test("no token in any log line", () => t.assertNoSecretLogged());
