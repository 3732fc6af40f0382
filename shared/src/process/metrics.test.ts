import assert from "node:assert/strict";
import { test } from "node:test";
import type { RequestInfo } from "../kube/client.ts";
import { ProcessMetrics } from "./metrics.ts";

class Sample extends ProcessMetrics {
  readonly things = this.gauge("things", "Things, by kind.", ["kind"]);
  readonly seen: string[] = [];
  protected override countKubeRequest(info: RequestInfo): void {
    super.countKubeRequest(info);
    this.seen.push(info.verb);
  }
}

const request: RequestInfo = {
  verb: "apply",
  method: "PATCH",
  path: "/api/v1/namespaces/a/pods/p",
  status: 200,
  durationMs: 1,
};

test("every metric carries the process's prefix; Kubernetes requests are counted by verb and code", async () => {
  const m = new Sample({ prefix: "meridian_x_", processMetrics: false });
  m.onKubeRequest(request);
  m.onKubeRequest({ ...request, verb: "get", status: 0 });
  m.things.set({ kind: "a" }, 2);
  const text = await m.registry.metrics();
  assert.match(text, /^meridian_x_kube_requests_total\{verb="apply",code="200"\} 1$/m);
  assert.match(text, /^meridian_x_kube_requests_total\{verb="get",code="0"\} 1$/m);
  assert.match(text, /^meridian_x_things\{kind="a"\} 2$/m);
  assert.deepEqual(m.seen, ["apply", "get"], "a process extends what a request counts");
  assert.doesNotMatch(text, /process_cpu/);
});

test("process metrics take the prefix unless the process keeps them unprefixed", async () => {
  const prefixed = await new Sample({ prefix: "meridian_x_" }).registry.metrics();
  assert.match(prefixed, /^meridian_x_process_resident_memory_bytes /m);
  const plain = await new Sample({ prefix: "meridian_y_", processMetricsPrefix: "" }).registry.metrics();
  assert.match(plain, /^process_resident_memory_bytes /m);
  assert.doesNotMatch(plain, /^meridian_y_process_/m);
});
