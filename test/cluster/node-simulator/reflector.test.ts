import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { silentLogger } from "@meridian/shared/log";
import type { KubeApi, WatchEventType } from "./kube-api.ts";
import { type KubeObject, Reflector, type ReflectorEvent } from "./reflector.ts";

type Obj = KubeObject & { v?: number };
const obj = (name: string, rv: string, v = 0): Obj => ({
  metadata: { name, namespace: "ns", resourceVersion: rv },
  v,
});

/** A fake apiserver: lists come from `lists` in order; each watch is scripted by `watches`. */
function fakeApi(
  lists: { rv: string; items: Obj[] }[],
  watches: ((emit: (t: WatchEventType, o: unknown) => void, done: (e: unknown) => void) => void)[],
) {
  const calls: string[] = [];
  const api = {
    get: async (path: string) => {
      calls.push(`list ${path}`);
      const l = lists.shift();
      if (!l) throw new Error("no more lists");
      return { metadata: { resourceVersion: l.rv }, items: l.items };
    },
    watch: async (
      _path: string,
      query: Record<string, unknown>,
      onEvent: (t: WatchEventType, o: unknown) => void,
      onDone: (e: unknown) => void,
    ) => {
      calls.push(`watch rv=${query.resourceVersion}`);
      const script = watches.shift();
      setTimeout(() => script?.(onEvent, onDone), 1);
      return new AbortController();
    },
  };
  return { api: api as unknown as KubeApi, calls };
}

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), "condition not reached");
};

describe("Reflector", () => {
  it("watches from the list's version and resumes from the last version seen, bookmarks included", async () => {
    const events: string[] = [];
    const { api, calls } = fakeApi(
      [{ rv: "10", items: [obj("a", "5"), obj("b", "6")] }],
      [
        (emit, done) => {
          emit("MODIFIED", obj("a", "11", 1));
          emit("BOOKMARK", { metadata: { resourceVersion: "15" } });
          done(null); // server-side timeout
        },
        (emit) => emit("DELETED", obj("b", "16")),
      ],
    );
    const r = new Reflector<Obj>({
      api,
      path: "/api/v1/things",
      logger: silentLogger(),
      onEvent: (t: ReflectorEvent, o) => events.push(`${t} ${o.metadata?.name}`),
    });
    await r.start();
    await until(() => events.length >= 4);
    r.stop();
    assert.deepEqual(calls, ["list /api/v1/things", "watch rv=10", "watch rv=15"]);
    assert.deepEqual(events, ["ADDED a", "ADDED b", "MODIFIED a", "DELETED b"]);
    assert.deepEqual([...r.items.keys()], ["ns/a"]);
  });

  it("re-lists on 410 Gone and emits DELETED for objects that vanished meanwhile", async () => {
    const events: string[] = [];
    const { api, calls } = fakeApi(
      [
        { rv: "10", items: [obj("a", "5"), obj("b", "6")] },
        { rv: "30", items: [obj("a", "25", 1), obj("c", "26")] },
      ],
      [
        (emit, done) => {
          emit("ERROR", { kind: "Status", code: 410 });
          done(null);
        },
        () => {},
      ],
    );
    const r = new Reflector<Obj>({
      api,
      path: "/api/v1/things",
      logger: silentLogger(),
      onEvent: (t, o) => events.push(`${t} ${o.metadata?.name}`),
    });
    await r.start();
    await until(() => calls.length >= 4);
    r.stop();
    assert.deepEqual(calls, ["list /api/v1/things", "watch rv=10", "list /api/v1/things", "watch rv=30"]);
    assert.deepEqual(events, ["ADDED a", "ADDED b", "MODIFIED a", "ADDED c", "DELETED b"]);
    assert.deepEqual([...r.items.keys()].sort(), ["ns/a", "ns/c"]);
    assert.equal(r.get("ns", "a")?.v, 1);
  });
});
