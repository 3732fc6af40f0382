// The agent pod as the kubelet would present it to the agent (args, env with field references resolved,
// mounted Secret and ConfigMap files), from the chart's rendered manifests; the agent's own loadConfig()
// run on it; and the workspace agent Deployment the agent would build with that configuration.
import assert from "node:assert/strict";
import { workspaceSpec } from "@meridian/shared/protocol/index";
import { loadConfig, SETTINGS } from "../../agent/src/config.ts";
import { workspaceBuildContext } from "../../agent/src/workspace/build-context.ts";
import { buildDeployment } from "../../agent/src/workspace/objects.ts";
import { type Manifest, one } from "./helm.ts";

export const POD_IP = "10.244.1.7";
export const POD_NAME = "meridian-agent-7d9c-x2x4z";
const FIELD_REFS: Record<string, string> = {
  "status.podIP": POD_IP,
  "metadata.name": POD_NAME,
  "metadata.namespace": "meridian-system",
};
/** What a Secret or ConfigMap the customer created holds, for value sets that name one. */
const EXTERNAL_FILE = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
/** What a key of a Secret the customer created holds, for env taken from one (the proxy URL). */
export const EXTERNAL_SECRET_VALUE = "http://user:external-secret@proxy.external.example:3128";

export interface PodView {
  flags: Record<string, string | undefined>;
  env: Record<string, string>;
  files: Map<string, string>;
}

/** The container's args, env and files as the kubelet would present them (external Secrets faked). */
export function podView(manifests: Manifest[]): PodView {
  const pod = one(manifests, "Deployment").spec.template.spec;
  const container = pod.containers[0];
  const env: Record<string, string> = {};
  for (const e of container.env as Array<{
    name: string;
    value?: string;
    valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string; key: string } };
  }>) {
    const fromField = e.valueFrom?.fieldRef ? FIELD_REFS[e.valueFrom.fieldRef.fieldPath] : undefined;
    const fromSecret = e.valueFrom?.secretKeyRef
      ? secretValue(manifests, e.valueFrom.secretKeyRef)
      : undefined;
    const resolved = e.value ?? fromField ?? fromSecret;
    assert.ok(resolved !== undefined, `env ${e.name} has an unsupported source`);
    env[e.name] = resolved.replace(/\$\((\w+)\)/g, (_m, n: string) => env[n] ?? `$(${n})`);
  }
  const flags: Record<string, string | undefined> = {};
  for (const arg of (container.args as string[]).slice(1)) {
    const m = /^--([a-z-]+)=(.*)$/.exec(arg);
    assert.ok(m, `argument ${arg} is not --flag=value`);
    const setting = SETTINGS.find((s) => s.flag === m[1]);
    assert.ok(setting, `the agent has no flag --${m[1]}`);
    flags[setting.key] = m[2];
  }
  const files = new Map<string, string>();
  for (const mount of container.volumeMounts as Array<{ name: string; mountPath: string }>) {
    const volume = pod.volumes.find((v: { name: string }) => v.name === mount.name);
    const sources = volume.projected?.sources ?? [volume];
    for (const src of sources) {
      const ref = src.secret ?? src.configMap;
      if (!ref) continue;
      const name = ref.secretName ?? ref.name;
      const rendered = manifests.find(
        (m) => (m.kind === "Secret" || m.kind === "ConfigMap") && m.metadata.name === name,
      );
      for (const item of ref.items ?? Object.keys(rendered?.data ?? {}).map((k) => ({ key: k, path: k }))) {
        const raw = rendered?.data?.[item.key];
        const text =
          raw === undefined
            ? EXTERNAL_FILE
            : rendered?.kind === "Secret"
              ? Buffer.from(raw, "base64").toString()
              : raw;
        files.set(`${mount.mountPath}/${item.path}`, text);
      }
    }
  }
  return { flags, env, files };
}

/** A key of a Secret the chart rendered (decoded), or of one the customer made (EXTERNAL_SECRET_VALUE). */
function secretValue(manifests: Manifest[], ref: { name: string; key: string }): string {
  const rendered = manifests.find((m) => m.kind === "Secret" && m.metadata.name === ref.name);
  if (!rendered) return EXTERNAL_SECRET_VALUE;
  const raw = rendered.data?.[ref.key];
  assert.ok(raw !== undefined, `Secret ${ref.name} has no key ${ref.key}`);
  return Buffer.from(raw, "base64").toString();
}

export function loadFromPod(view: PodView) {
  return loadConfig({
    flags: view.flags,
    env: view.env,
    readFile: (path) => {
      const text = view.files.get(path);
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: "ENOENT" });
      return text;
    },
  });
}

/** The Deployment the agent configured by these manifests would create for workspace `team-a` in `ns`. */
export function workspaceAgentDeployment(manifests: Manifest[], ns = "mw-team-a"): Manifest {
  const config = loadFromPod(podView(manifests));
  const spec = workspaceSpec.parse({ id: "team-a", generation: 1, quota: { cpu: "4", memory: "8Gi" } });
  const ctx = { ...workspaceBuildContext(config), image: config.workspaceAgentImage };
  return { apiVersion: "apps/v1", kind: "Deployment", ...buildDeployment(spec, ns, ctx) } as Manifest;
}
