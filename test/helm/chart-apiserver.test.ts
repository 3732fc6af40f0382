// The real kube-apiserver's verdict on the chart: every value set's manifests pass a server-side
// dry-run apply with strict field validation, the ServiceMonitor set once its CRD exists (and is
// refused without it, which is why the chart renders that kind only when asked), and a real
// `helm install` / `upgrade` / `uninstall` round trip works with NOTES that put warnings first.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Cluster, getTestCluster } from "../cluster/index.ts";
import { workspaceAgentDeployment } from "./agent-pod.ts";
import { CHART_DIR, helm, NAMESPACE, render, renderText, VALUE_SETS, valueArgs } from "./helm.ts";

const CRD_PATH = join(import.meta.dirname, "fixtures", "servicemonitor-crd.yaml");
const CRD_NAME = "servicemonitors.monitoring.coreos.com";
let cluster: Cluster;

async function kubectlOk(args: string[], input?: string): Promise<string> {
  const res = await cluster.kubectl(args, input === undefined ? {} : { input });
  assert.equal(res.code, 0, `kubectl ${args.join(" ")} failed:\n${res.stderr}`);
  return res.stdout;
}

/**
 * Server-side dry-run apply with strict field validation (unknown or duplicate fields are errors).
 * `cacheDir` gives kubectl a fresh discovery cache, so a kind added a moment ago is found.
 */
function dryRunApply(manifests: string, cacheDir?: string) {
  const args = ["apply", "--dry-run=server", "--validate=strict", "-f", "-"];
  return cluster.kubectl(cacheDir ? [`--cache-dir=${cacheDir}`, ...args] : args, { input: manifests });
}

before(async () => {
  cluster = await getTestCluster();
  await kubectlOk(["create", "namespace", NAMESPACE, "--dry-run=client", "-o", "yaml"]).then((ns) =>
    kubectlOk(["apply", "-f", "-"], ns),
  );
});

after(async () => {
  await cluster?.kubectl(["delete", "crd", CRD_NAME, "--ignore-not-found", "--wait=false"]);
  await cluster?.stop();
});

test("the dry run can fail: a misspelled field is refused", async () => {
  const text = await renderText(["defaults"]);
  const broken = text.replace("readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true");
  assert.notEqual(broken, text);
  const res = await dryRunApply(broken);
  assert.notEqual(res.code, 0);
  assert.match(
    res.stderr,
    /unknown field "spec\.template\.spec\.containers\[0\]\.securityContext\.readOnlyRootFileSystem"/,
  );
});

test("the workspace agent Deployment the agent builds from the OpenShift values passes the dry run", async () => {
  const deployment = workspaceAgentDeployment(await render(["openshift"]), NAMESPACE);
  assert.equal(deployment.spec.template.spec.securityContext.runAsUser, undefined);
  const res = await dryRunApply(JSON.stringify(deployment));
  assert.equal(res.code, 0, res.stderr);
});

describe("kubectl apply --dry-run=server accepts every rendered object", () => {
  for (const set of VALUE_SETS.filter((s) => s !== "servicemonitor")) {
    test(set, async () => {
      const text = await renderText([set]);
      const res = await dryRunApply(text);
      assert.equal(res.code, 0, res.stderr);
      const objects = text.split(/^---$/m).filter((doc) => /^kind:/m.test(doc)).length;
      const accepted = res.stdout.split("\n").filter((l) => l.endsWith("(server dry run)")).length;
      assert.equal(accepted, objects, res.stdout);
      assert.equal(res.stderr.trim(), "", "the API server warned about the manifests");
    });
  }

  test("servicemonitor: refused without the CRD, accepted with it", async () => {
    const text = await renderText(["servicemonitor"]);
    const without = await dryRunApply(text);
    assert.notEqual(without.code, 0, "a ServiceMonitor applied to a cluster without prometheus-operator");
    assert.match(
      without.stderr,
      /no matches for kind "ServiceMonitor" in version "monitoring\.coreos\.com\/v1"/,
    );

    await kubectlOk(["apply", "-f", "-"], readFileSync(CRD_PATH, "utf8"));
    await kubectlOk(["wait", "--for=condition=Established", `crd/${CRD_NAME}`, "--timeout=30s"]);
    // kubectl caches discovery on disk; a fresh cache directory sees the new kind once it is served.
    // The API server may take a few seconds more to serve a just-established CRD's kind.
    const deadline = Date.now() + 30_000;
    let res = await dryRunApply(text, join(cluster.dir, "kubectl-cache-0"));
    for (let i = 1; Date.now() < deadline && /no matches for kind/.test(res.stderr); i++) {
      await new Promise((r) => setTimeout(r, 250));
      res = await dryRunApply(text, join(cluster.dir, `kubectl-cache-${i}`));
    }
    assert.equal(res.code, 0, res.stderr);
    assert.match(
      res.stdout,
      /servicemonitor\.monitoring\.coreos\.com\/meridian-agent created \(server dry run\)/,
    );
  });
});

describe("helm install, upgrade and uninstall against the API server", () => {
  const release = `chart-test-${randomBytes(3).toString("hex")}`;
  const namespace = `${release}-ns`;
  const kube = () => ({ kubeconfig: cluster.kubeconfigPath });

  test("install prints warnings first, then how to check the agent", async () => {
    const args = [
      "install",
      release,
      CHART_DIR,
      "-n",
      namespace,
      "--create-namespace",
      ...valueArgs(["defaults"]),
    ];
    const res = await helm(args, kube());
    assert.equal(res.code, 0, res.stderr);
    const notes = res.stdout.slice(res.stdout.indexOf("NOTES:"));
    assert.match(notes, /^NOTES:\nWARNINGS\n {2}- /);
    assert.ok(notes.indexOf("WARNINGS") < notes.indexOf("Check the agent"));
    assert.match(notes, new RegExp(`kubectl -n ${namespace} logs deploy/${release}-meridian-agent`));
    assert.match(notes, new RegExp(`kubectl -n ${namespace} get lease ${release}-meridian-agent`));
    assert.match(notes, /the token was given as a value/);
    const deploy = JSON.parse(
      await kubectlOk(["-n", namespace, "get", "deploy", `${release}-meridian-agent`, "-o", "json"]),
    );
    assert.equal(deploy.spec.replicas, 2);
  });

  test("upgrade to a single agent without leader election removes the Lease Role and keeps the credential Role", async () => {
    const args = ["upgrade", release, CHART_DIR, "-n", namespace, ...valueArgs(["strict-policy"])];
    const res = await helm(args, kube());
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /replicas is 1/);
    const roles = await kubectlOk([
      "-n",
      namespace,
      "get",
      "roles",
      "-l",
      `app.kubernetes.io/instance=${release}`,
      "-o",
      "name",
    ]);
    // What stays is the Role on the agent's own credential Secret (decision 44), which every install has.
    assert.equal(roles.trim(), `role.rbac.authorization.k8s.io/${release}-meridian-agent-credential`);
    const strategy = await kubectlOk([
      "-n",
      namespace,
      "get",
      "deploy",
      `${release}-meridian-agent`,
      "-o",
      "jsonpath={.spec.strategy.type}",
    ]);
    assert.equal(strategy, "Recreate");
  });

  test("uninstall removes the chart's objects, cluster-scoped ones included", async () => {
    const res = await helm(["uninstall", release, "-n", namespace, "--wait"], kube());
    assert.equal(res.code, 0, res.stderr);
    const left = await kubectlOk([
      "-n",
      namespace,
      "get",
      "all,configmaps,secrets,serviceaccounts",
      "-l",
      `app.kubernetes.io/instance=${release}`,
      "-o",
      "name",
    ]);
    assert.equal(left.trim(), "");
    const clusterRoles = await kubectlOk([
      "get",
      "clusterroles,clusterrolebindings",
      "-l",
      `app.kubernetes.io/instance=${release}`,
      "-o",
      "name",
    ]);
    assert.equal(clusterRoles.trim(), "");
    await kubectlOk(["delete", "namespace", namespace, "--wait=false"]);
  });
});
