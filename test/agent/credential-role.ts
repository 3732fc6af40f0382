// The chart's Role and RoleBinding for the agent's credential Secret (get/create/patch on that one
// name), as `helm template` renders them for the harness's agent identity, created in the test
// cluster: what an agent started with `credentialSecret` needs to keep its credential and its
// stream mark there (docs/rbac.md, docs/decisions.md 44 and 46).
import { parseAllDocuments } from "yaml";
import { CHART_DIR, helm, RELEASE, valueArgs } from "../helm/helm.ts";
import type { Harness } from "./harness.ts";

/** Installs the Role and binding; returns the Secret's name (`<fullname>-credential`). */
export async function installCredentialRole(h: Harness): Promise<string> {
  const home = h.rbac.namespace;
  const sa = h.rbac.serviceAccount;
  const shows = ["templates/role.yaml", "templates/rolebinding.yaml"].flatMap((t) => ["--show-only", t]);
  const args = ["template", RELEASE, CHART_DIR, "--namespace", home];
  const res = await helm([...args, ...valueArgs(["defaults"], { fullnameOverride: sa }), ...shows]);
  if (res.code !== 0) throw new Error(`rendering the credential Role failed: ${res.stderr}`);
  const objects = parseAllDocuments(res.stdout)
    .map((d) => d.toJS() as { kind: string; metadata: { name: string } } | null)
    .filter((m) => m?.metadata.name === `${sa}-credential`);
  if (objects.length !== 2) throw new Error(`the chart rendered ${objects.length} credential objects, not 2`);
  for (const obj of objects) {
    const plural = obj?.kind === "Role" ? "roles" : "rolebindings";
    const created = await h.cluster.request(
      "POST",
      `/apis/rbac.authorization.k8s.io/v1/namespaces/${home}/${plural}`,
      obj,
    );
    if (created.status >= 400 && created.status !== 409)
      throw new Error(`creating the credential ${obj?.kind} failed: ${created.status} ${created.body}`);
  }
  return `${sa}-credential`;
}
