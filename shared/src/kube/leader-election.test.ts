import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { FakeApiServer } from "./fake-apiserver.ts";
import { LeaderElector } from "./leader-election.ts";

const LEASES = "/apis/coordination.k8s.io/v1/namespaces/sys/leases";
let api: FakeApiServer;
before(async () => {
  api = await new FakeApiServer().start();
});
after(() => api.stop());

const timing = { leaseDurationMs: 600, renewDeadlineMs: 400, retryPeriodMs: 100 };

async function candidate(identity: string) {
  const client = await api.client();
  const elector = new LeaderElector({ client, namespace: "sys", name: "lock", identity, ...timing });
  const ctl = new AbortController();
  const state = {
    leading: false,
    startedAt: 0,
    lost: [] as string[],
    signal: undefined as AbortSignal | undefined,
  };
  const done = elector.run(
    {
      onStartedLeading: (signal) => {
        state.leading = true;
        state.startedAt = Date.now();
        state.signal = signal;
      },
      onStoppedLeading: (reason) => {
        state.leading = false;
        state.lost.push(reason);
      },
    },
    ctl.signal,
  );
  return { elector, ctl, state, done, client };
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(10);
  assert.ok(cond(), `timed out waiting for ${what}`);
}

test("exactly one of two candidates leads; the other takes over within the lease duration of a crash", async () => {
  const a = await candidate("a");
  await until(() => a.state.leading, 2000, "a to lead");
  const b = await candidate("b");
  await sleep(3 * timing.leaseDurationMs);
  assert.equal(b.state.leading, false, "b must stay standby while a renews");
  assert.equal(b.elector.leader, "a");

  // A crash: a stops renewing without releasing (its requests now fail).
  const crashedAt = Date.now();
  await a.client.close();
  a.ctl.abort();
  api.failNext = { count: 0, status: 500 };
  try {
    await until(() => b.state.leading, 3000, "b to take over");
    const took = b.state.startedAt - crashedAt;
    // The standby sees the last renewal up to one (jittered) retry period late and acquires on its
    // next retry tick: the lease duration plus two jittered retry periods, plus slack for timers
    // firing late on a loaded 2-core CI machine (981 ms was seen). Still far below two leases.
    const bound = timing.leaseDurationMs + 2 * 1.2 * timing.retryPeriodMs + 300;
    assert.ok(took <= bound, `took ${took} ms, more than ${bound} ms`);
  } finally {
    b.ctl.abort();
    await Promise.allSettled([a.done, b.done]);
    await b.client.close();
    api.objects.clear();
  }
});

test("a leader that finds another holder on the Lease stops at once and aborts its signal", async () => {
  const a = await candidate("a");
  await until(() => a.state.leading, 2000, "a to lead");
  const lease = api.objects.get(`${LEASES}/lock`)!.obj as { spec: Record<string, unknown> };
  api.put(LEASES, {
    ...lease,
    spec: { ...lease.spec, holderIdentity: "intruder", renewTime: new Date().toISOString() },
  });
  await until(() => a.state.lost.length === 1, 1000, "a to notice");
  assert.equal(a.state.signal?.aborted, true);
  assert.match(a.state.lost[0]!, /held by intruder/);
  a.ctl.abort();
  await a.done;
  await a.client.close();
  api.objects.clear();
});

test("a leader whose renewals fail past the deadline stops; a graceful stop releases the Lease", async () => {
  const a = await candidate("a");
  await until(() => a.state.leading, 2000, "a to lead");
  api.failNext = { count: 1000, status: 500 };
  const failedAt = Date.now();
  await until(() => a.state.lost.length === 1, 2000, "a to give up");
  assert.ok(Date.now() - failedAt <= timing.renewDeadlineMs + 2 * timing.retryPeriodMs + 100);
  assert.match(a.state.lost[0]!, /renew deadline/);
  api.failNext = { count: 0, status: 500 };
  await until(() => a.state.leading, 3000, "a to lead again");
  a.ctl.abort();
  await a.done;
  const lease = api.objects.get(`${LEASES}/lock`)!.obj as { spec: { holderIdentity: string } };
  assert.equal(lease.spec.holderIdentity, "");
  await a.client.close();
  api.objects.clear();
});

test("a leader whose API server stops answering stops leading within the renew deadline", async () => {
  const a = await candidate("a");
  await until(() => a.state.leading, 2000, "a to lead");
  // The last renewal that can have succeeded started at most one retry period ago.
  api.hang = true;
  const hungAt = Date.now();
  try {
    await until(() => a.state.lost.length === 1, 2000, "a to give up");
    const led = Date.now() - hungAt;
    assert.ok(
      led <= timing.renewDeadlineMs + 50,
      `led ${led} ms after the API server hung; the renew deadline is ${timing.renewDeadlineMs} ms`,
    );
    assert.ok(a.state.signal?.aborted, "the leader's signal is aborted");
    assert.match(a.state.lost[0]!, /renew deadline/);
  } finally {
    api.hang = false;
    a.ctl.abort();
    await a.done;
    await a.client.close();
    api.objects.clear();
  }
});

test("nonsense timing is refused", async () => {
  const client = await api.client();
  assert.throws(
    () =>
      new LeaderElector({
        client,
        namespace: "n",
        name: "l",
        identity: "i",
        leaseDurationMs: 1,
        renewDeadlineMs: 2,
        retryPeriodMs: 1,
      }),
    /leaseDuration must be greater than renewDeadline/,
  );
  await client.close();
});
