// Kubeconfig files for the local cluster. Every credential is embedded (no paths to other files), so
// a kubeconfig can be copied anywhere and still work. Written as JSON, which is valid YAML.
import { writeFile } from "node:fs/promises";

export interface KubeconfigCredentials {
  clientCertPem?: string;
  clientKeyPem?: string;
  token?: string;
}

export interface KubeconfigSpec {
  server: string;
  caPem: string;
  /** Names the cluster, user and context entries. */
  name: string;
  user: KubeconfigCredentials;
  namespace?: string;
}

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

export function renderKubeconfig(spec: KubeconfigSpec): string {
  const user: Record<string, string> = {};
  if (spec.user.clientCertPem) user["client-certificate-data"] = b64(spec.user.clientCertPem);
  if (spec.user.clientKeyPem) user["client-key-data"] = b64(spec.user.clientKeyPem);
  if (spec.user.token) user.token = spec.user.token;
  const context: Record<string, string> = { cluster: spec.name, user: spec.name };
  if (spec.namespace) context.namespace = spec.namespace;
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      { name: spec.name, cluster: { server: spec.server, "certificate-authority-data": b64(spec.caPem) } },
    ],
    users: [{ name: spec.name, user }],
    contexts: [{ name: spec.name, context }],
    "current-context": spec.name,
    preferences: {},
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

/** Writes a kubeconfig readable only by its owner (it carries a credential). */
export async function writeKubeconfig(path: string, spec: KubeconfigSpec): Promise<string> {
  await writeFile(path, renderKubeconfig(spec), { mode: 0o600 });
  return path;
}
