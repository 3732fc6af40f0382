// Container environment resolution as the kubelet does it (pure, no I/O): the
// service variables first, then envFrom in order, then env in order, where a
// `value` may reference earlier variables as $(VAR) ($$ escapes). fieldRef covers
// the downward-API fields a kubelet supports for env; resourceFieldRef is not
// supported (documented in docs/testing.md).
import type { V1Container, V1EnvVar, V1ObjectFieldSelector, V1Pod } from "@kubernetes/client-node";

export interface EnvSources {
  /** ConfigMap data (data plus binaryData decoded as UTF-8), undefined when it does not exist. */
  configMap(namespace: string, name: string): Record<string, string> | undefined;
  /** Secret data decoded from base64, undefined when it does not exist. */
  secret(namespace: string, name: string): Record<string, string> | undefined;
}

export interface EnvInput {
  pod: V1Pod;
  container: V1Container;
  podIP: string;
  hostIP: string;
  sources: EnvSources;
  /** Variables set before envFrom and env (service variables, KUBECONFIG, ...). */
  base?: Record<string, string>;
}

export type EnvResult = { ok: true; env: Record<string, string> } | { ok: false; error: string };

/**
 * Expands $(VAR) references using `lookup`; `$$` yields a literal `$`, and
 * references to unknown variables are left as written, like the kubelet.
 */
export function expandVars(input: string, lookup: (name: string) => string | undefined): string {
  let out = "";
  for (let i = 0; i < input.length; i++) {
    const c = input[i];
    if (c !== "$" || i + 1 >= input.length) {
      out += c;
      continue;
    }
    const next = input[i + 1];
    if (next === "$") {
      out += "$";
      i++;
    } else if (next === "(") {
      const end = input.indexOf(")", i + 2);
      if (end === -1) {
        out += input.slice(i);
        break;
      }
      const name = input.slice(i + 2, end);
      const value = lookup(name);
      out += value ?? `$(${name})`;
      i = end;
    } else {
      out += c;
    }
  }
  return out;
}

/** Value of a downward-API field path (env or volume), or undefined if unsupported. */
export function fieldValue(
  pod: V1Pod,
  sel: V1ObjectFieldSelector,
  podIP: string,
  hostIP: string,
): string | undefined {
  const path = sel.fieldPath;
  const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (m) {
    const map = m[1] === "labels" ? pod.metadata?.labels : pod.metadata?.annotations;
    return map?.[m[2]!] ?? "";
  }
  switch (path) {
    case "metadata.name":
      return pod.metadata?.name ?? "";
    case "metadata.namespace":
      return pod.metadata?.namespace ?? "";
    case "metadata.uid":
      return pod.metadata?.uid ?? "";
    case "metadata.labels":
      return formatMap(pod.metadata?.labels);
    case "metadata.annotations":
      return formatMap(pod.metadata?.annotations);
    case "spec.nodeName":
      return pod.spec?.nodeName ?? "";
    case "spec.serviceAccountName":
      return pod.spec?.serviceAccountName ?? "default";
    case "status.podIP":
    case "status.podIPs":
      return podIP;
    case "status.hostIP":
    case "status.hostIPs":
      return hostIP;
    default:
      return undefined;
  }
}

/** `key="value"` lines, sorted, as the downward API writes labels/annotations. */
export function formatMap(map: Record<string, string> | undefined): string {
  return Object.keys(map ?? {})
    .sort()
    .map((k) => `${k}=${JSON.stringify(map![k])}`)
    .join("\n");
}

export function resolveContainerEnv(input: EnvInput): EnvResult {
  const { pod, container, sources } = input;
  const ns = pod.metadata?.namespace ?? "default";
  const env: Record<string, string> = { ...(input.base ?? {}) };

  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? "";
    if (from.configMapRef) {
      const data = sources.configMap(ns, from.configMapRef.name ?? "");
      if (!data) {
        if (from.configMapRef.optional) continue;
        return { ok: false, error: `configmap "${from.configMapRef.name}" not found` };
      }
      for (const [k, v] of Object.entries(data)) env[prefix + k] = v;
    } else if (from.secretRef) {
      const data = sources.secret(ns, from.secretRef.name ?? "");
      if (!data) {
        if (from.secretRef.optional) continue;
        return { ok: false, error: `secret "${from.secretRef.name}" not found` };
      }
      for (const [k, v] of Object.entries(data)) env[prefix + k] = v;
    }
  }

  for (const v of container.env ?? []) {
    const r = resolveOne(v, input, ns, env);
    if (typeof r === "object") return r;
    if (r !== undefined) env[v.name] = r;
  }
  return { ok: true, env };
}

function resolveOne(
  v: V1EnvVar,
  input: EnvInput,
  ns: string,
  env: Record<string, string>,
): string | undefined | { ok: false; error: string } {
  if (!v.valueFrom) return expandVars(v.value ?? "", (name) => env[name]);
  const { configMapKeyRef, secretKeyRef, fieldRef } = v.valueFrom;
  if (configMapKeyRef) {
    const data = input.sources.configMap(ns, configMapKeyRef.name ?? "");
    const value = data?.[configMapKeyRef.key];
    if (value !== undefined) return value;
    if (configMapKeyRef.optional) return undefined;
    return data
      ? {
          ok: false,
          error: `couldn't find key ${configMapKeyRef.key} in ConfigMap ${ns}/${configMapKeyRef.name}`,
        }
      : { ok: false, error: `configmap "${configMapKeyRef.name}" not found` };
  }
  if (secretKeyRef) {
    const data = input.sources.secret(ns, secretKeyRef.name ?? "");
    const value = data?.[secretKeyRef.key];
    if (value !== undefined) return value;
    if (secretKeyRef.optional) return undefined;
    return data
      ? { ok: false, error: `couldn't find key ${secretKeyRef.key} in Secret ${ns}/${secretKeyRef.name}` }
      : { ok: false, error: `secret "${secretKeyRef.name}" not found` };
  }
  if (fieldRef) {
    const value = fieldValue(input.pod, fieldRef, input.podIP, input.hostIP);
    if (value === undefined) return { ok: false, error: `unsupported fieldRef ${fieldRef.fieldPath}` };
    return value;
  }
  return {
    ok: false,
    error: `env ${v.name}: only value, configMapKeyRef, secretKeyRef and fieldRef are supported`,
  };
}

/** Expands $(VAR) in command and args with the container's env, as the kubelet does. */
export function expandCommand(container: V1Container, env: Record<string, string>): V1Container {
  const lookup = (name: string) => env[name];
  return {
    ...container,
    command: container.command?.map((s) => expandVars(s, lookup)),
    args: container.args?.map((s) => expandVars(s, lookup)),
  };
}
