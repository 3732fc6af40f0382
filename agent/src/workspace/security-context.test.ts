import assert from "node:assert/strict";
import { test } from "node:test";
import { loadConfig } from "../config.ts";
import {
  DEFAULT_WORKSPACE_AGENT_SECURITY_CONTEXT as DEFAULTS,
  workspaceAgentSecurityContextSetting as setting,
} from "./security-context.ts";

const problem = (raw: string) => {
  const r = setting.safeParse(raw);
  assert.equal(r.success, false, `accepted ${raw}`);
  return r.error?.issues.map((i) => i.message).join("; ") ?? "";
};

test("unset or empty means the defaults; a part left out keeps its default", () => {
  assert.deepEqual(setting.parse(undefined), DEFAULTS);
  assert.deepEqual(setting.parse(" "), DEFAULTS);
  const onlyPod = setting.parse('{"pod":{"runAsNonRoot":true}}');
  assert.deepEqual(onlyPod, { pod: { runAsNonRoot: true }, container: DEFAULTS.container });
});

test("a pair is taken as given, not merged with the defaults", () => {
  const given = {
    pod: { fsGroup: 2000, supplementalGroups: [3000], seLinuxOptions: { level: "s0:c26,c5" } },
    container: { runAsUser: 1000710000, capabilities: { drop: ["ALL"], add: [] }, procMount: "Default" },
  };
  assert.deepEqual(setting.parse(JSON.stringify(given)), given);
});

test("refuses what is not JSON, an unknown field, a wrong type, naming where", () => {
  assert.match(problem("{pod:"), /^is not JSON/);
  assert.match(problem('{"pod":{"runAsUsr":1}}'), /pod: Unrecognized key: "runAsUsr"/);
  assert.match(problem('{"containers":{}}'), /\(root\): Unrecognized key: "containers"/);
  assert.match(problem('{"container":{"runAsUser":"1000"}}'), /container\.runAsUser: /);
  assert.match(problem('{"pod":{"seccompProfile":{"type":"Default"}}}'), /pod\.seccompProfile\.type: /);
  assert.match(problem("[]"), /\(root\): /);
});

test("refuses contradictions the kubelet or the API server would refuse later", () => {
  assert.match(
    problem('{"pod":{"runAsNonRoot":true,"runAsUser":0},"container":{}}'),
    /runAsNonRoot is true but runAsUser is 0/,
  );
  // A container inherits what it does not set from its pod.
  assert.match(problem('{"pod":{"runAsNonRoot":true},"container":{"runAsUser":0}}'), /runAsNonRoot is true/);
  // The container's uid wins over the pod's 0: nothing runs as root.
  assert.equal(setting.parse('{"pod":{"runAsNonRoot":true,"runAsUser":0}}').container.runAsUser, 10001);
  assert.match(
    problem('{"container":{"privileged":true,"allowPrivilegeEscalation":false}}'),
    /privileged is true but container\.allowPrivilegeEscalation is false/,
  );
  // Root on purpose, without the non-root check, is the customer's call.
  assert.equal(setting.parse('{"pod":{"runAsUser":0},"container":{"runAsUser":0}}').pod.runAsUser, 0);
});

test("the agent's configuration names the setting, its source and the field when the value is wrong", () => {
  const env = {
    MERIDIAN_CONTROL_PLANE_URL: "https://cp.example.com",
    MERIDIAN_AGENT_ID: "a1",
    MERIDIAN_TOKEN_FILE: "/t/token",
    MERIDIAN_WORKSPACE_AGENT_SECURITY_CONTEXT: '{"container":{"readOnlyRootFilesystem":"yes"}}',
  };
  const readFile = () => "token";
  assert.throws(
    () => loadConfig({ flags: {}, env, readFile }),
    /setting --workspace-agent-security-context \/ MERIDIAN_WORKSPACE_AGENT_SECURITY_CONTEXT \(from env: .*\): container\.readOnlyRootFilesystem: /,
  );
  const { MERIDIAN_WORKSPACE_AGENT_SECURITY_CONTEXT: _, ...unset } = env;
  assert.deepEqual(loadConfig({ flags: {}, env: unset, readFile }).workspaceAgentSecurityContext, DEFAULTS);
});
