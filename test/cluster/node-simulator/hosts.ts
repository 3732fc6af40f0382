// The simulator's name resolution: a hosts file (one per simulator) mapping
// Service DNS names to the IPs of the ready pods their selector picks, pod
// hostnames to pod IPs, and localhost/the machine's hostname/node names to
// 127.0.0.1 (a JVM given -Djdk.net.hosts.file resolves nothing else).
// Node children read it through hosts-preload.ts.
import { hostname } from "node:os";
import type { V1Pod, V1Service } from "@kubernetes/client-node";

const CLUSTER_DOMAIN = "cluster.local";

export function isPodReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

export function selectorMatches(
  selector: Record<string, string>,
  labels: Record<string, string> | undefined,
): boolean {
  const keys = Object.keys(selector);
  return keys.length > 0 && keys.every((k) => labels?.[k] === selector[k]);
}

/** DNS names of a Service, most specific last: `svc`, `svc.ns`, `svc.ns.svc`, `svc.ns.svc.cluster.local`. */
export function serviceNames(name: string, namespace: string): string[] {
  return [
    name,
    `${name}.${namespace}`,
    `${name}.${namespace}.svc`,
    `${name}.${namespace}.svc.${CLUSTER_DOMAIN}`,
  ];
}

/**
 * Hosts-file text for the given Services and pods. Each Service name maps to the IPs
 * of the ready, non-terminating pods its selector picks (oldest first; all of them
 * for `publishNotReadyAddresses`). Fully qualified names come first so that a
 * namespace-qualified lookup never hits another namespace's short name.
 */
export function buildHostsFile(
  services: Iterable<V1Service>,
  pods: Iterable<V1Pod>,
  nodeNames: string[],
): string {
  const podList = [...pods]
    .filter((p) => p.status?.podIP && !p.metadata?.deletionTimestamp && p.status.phase === "Running")
    .sort(
      (a, b) =>
        String(a.metadata?.creationTimestamp ?? "").localeCompare(
          String(b.metadata?.creationTimestamp ?? ""),
        ) || String(a.metadata?.name).localeCompare(String(b.metadata?.name)),
    );
  const fq: string[] = [];
  const short: string[] = [];
  const svcList = [...services].sort((a, b) =>
    `${a.metadata?.namespace}/${a.metadata?.name}`.localeCompare(
      `${b.metadata?.namespace}/${b.metadata?.name}`,
    ),
  );
  for (const svc of svcList) {
    const ns = svc.metadata?.namespace ?? "default";
    const name = svc.metadata?.name ?? "";
    const selector = svc.spec?.selector;
    if (!selector || svc.spec?.type === "ExternalName") continue;
    const names = serviceNames(name, ns);
    for (const pod of podList) {
      if (pod.metadata?.namespace !== ns || !selectorMatches(selector, pod.metadata?.labels)) continue;
      if (!svc.spec?.publishNotReadyAddresses && !isPodReady(pod)) continue;
      const ip = pod.status!.podIP!;
      fq.push(`${ip} ${names[3]} ${names[2]} ${names[1]}`);
      short.push(`${ip} ${names[0]}`);
    }
  }
  for (const pod of podList) {
    const ip = pod.status!.podIP!;
    const ns = pod.metadata?.namespace ?? "default";
    const dashed = ip.replaceAll(".", "-");
    const names = [`${dashed}.${ns}.pod.${CLUSTER_DOMAIN}`, `${dashed}.${ns}.pod`];
    const host = pod.spec?.hostname ?? pod.metadata?.name ?? "";
    if (pod.spec?.subdomain) {
      const base = `${host}.${pod.spec.subdomain}.${ns}`;
      names.unshift(`${base}.svc.${CLUSTER_DOMAIN}`, `${base}.svc`, base);
    }
    fq.push(`${ip} ${names.join(" ")}`);
    short.push(`${ip} ${host}`);
  }
  const local = [...new Set(["localhost", hostname(), ...nodeNames])];
  return [
    "# Written by the Meridian node simulator; do not edit.",
    `127.0.0.1 ${local.join(" ")}`,
    "::1 localhost ip6-localhost",
    ...fq,
    ...short,
    "",
  ].join("\n");
}

/** Parses hosts-file text into name -> addresses (in file order). Names are lower-cased. */
export function parseHostsFile(text: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    if (!line) continue;
    const [ip, ...names] = line.split(/\s+/);
    for (const n of names) {
      const key = n.toLowerCase();
      const list = map.get(key) ?? [];
      if (!list.includes(ip!)) list.push(ip!);
      map.set(key, list);
    }
  }
  return map;
}
