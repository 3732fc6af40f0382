import assert from "node:assert/strict";
import { test } from "node:test";
import { AgentMetrics, resourceOf } from "./metrics.ts";

test("requests are counted by verb and code; writes by resource", async () => {
  const m = new AgentMetrics({ processMetrics: false });
  m.onKubeRequest({
    verb: "apply",
    method: "PATCH",
    path: "/apis/apps/v1/namespaces/mw-a/deployments/d",
    status: 200,
    durationMs: 3,
  });
  m.onKubeRequest({
    verb: "update",
    method: "PUT",
    path: "/apis/coordination.k8s.io/v1/namespaces/s/leases/l",
    status: 200,
    durationMs: 3,
  });
  m.onKubeRequest({ verb: "list", method: "GET", path: "/api/v1/namespaces", status: 200, durationMs: 3 });
  assert.equal(m.writes, 2);
  const text = await m.registry.metrics();
  assert.match(text, /meridian_agent_kube_requests_total\{verb="apply",code="200"\} 1/);
  assert.match(text, /meridian_agent_kube_write_requests_total\{resource="deployments"\} 1/);
  assert.match(text, /meridian_agent_kube_write_requests_total\{resource="leases"\} 1/);
  m.setPhases({ Ready: 3, Pending: 1 });
  assert.match(await m.registry.metrics(), /meridian_agent_workspaces\{phase="Ready"\} 3/);
  assert.equal(resourceOf("/api/v1/namespaces/x"), "namespaces");
  assert.equal(resourceOf("/api/v1/namespaces/x/events"), "events");
});
