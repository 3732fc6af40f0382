// Loaded into simulated pods' Node processes with `NODE_OPTIONS=--import <this file>`:
// patches dns.lookup and dns.promises.lookup to answer from the simulator's hosts
// file (MERIDIAN_HOSTS_FILE) first, applying the pod's DNS search path
// (<ns>.svc.cluster.local, svc.cluster.local, cluster.local; ndots 5) when
// MERIDIAN_POD_NAMESPACE is set. Names the file does not know fall through to
// the real resolver. net, http, tls and fetch all resolve through dns.lookup,
// so `jm.mw-x.svc` reaches a pod IP without code changes.
import dns from "node:dns";
import dnsPromises from "node:dns/promises";
import { readFileSync, statSync } from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { isIP } from "node:net";
import { parseHostsFile } from "./hosts.ts";

type Family = 0 | 4 | 6;
interface Address {
  address: string;
  family: 4 | 6;
}

let cache: { key: string; map: Map<string, string[]> } | undefined;

function hostsMap(file: string): Map<string, string[]> {
  try {
    const st = statSync(file);
    const key = `${st.mtimeMs}/${st.size}/${st.ino}`;
    if (cache?.key !== key) cache = { key, map: parseHostsFile(readFileSync(file, "utf8")) };
    return cache.map;
  } catch {
    return new Map();
  }
}

/** Names to try for `name`, in resolver order, given the pod's namespace. */
export function candidateNames(name: string, namespace: string | undefined): string[] {
  const host = name.toLowerCase();
  if (host.endsWith(".")) return [host.slice(0, -1)];
  const search = namespace ? [`${namespace}.svc.cluster.local`, "svc.cluster.local", "cluster.local"] : [];
  const expanded = search.map((s) => `${host}.${s}`);
  const dots = host.split(".").length - 1;
  return dots < 5 ? [...expanded, host] : [host, ...expanded];
}

/** Addresses for `name` from the hosts file, or undefined when the file does not know it. */
export function lookupHosts(
  name: string,
  family: Family,
  file = process.env.MERIDIAN_HOSTS_FILE,
  namespace = process.env.MERIDIAN_POD_NAMESPACE,
): Address[] | undefined {
  if (!file || typeof name !== "string" || isIP(name)) return undefined;
  const map = hostsMap(file);
  for (const candidate of candidateNames(name, namespace)) {
    const ips = map.get(candidate);
    if (!ips) continue;
    const out = ips
      .map((address) => ({ address, family: isIP(address) as 4 | 6 }))
      .filter((a) => family === 0 || a.family === family);
    if (out.length > 0) return out;
  }
  return undefined;
}

function familyOf(options: unknown): Family {
  const f = typeof options === "number" ? options : (options as { family?: unknown } | undefined)?.family;
  if (f === 4 || f === "IPv4") return 4;
  if (f === 6 || f === "IPv6") return 6;
  return 0;
}

function wantsAll(options: unknown): boolean {
  return typeof options === "object" && options !== null && (options as { all?: boolean }).all === true;
}

const originalLookup = dns.lookup;
const originalPromisesLookup = dnsPromises.lookup;

function patchedLookup(hostname: string, options: unknown, callback?: unknown): void {
  const cb = (typeof options === "function" ? options : callback) as (...args: unknown[]) => void;
  const opts = typeof options === "function" ? undefined : options;
  const hits = lookupHosts(hostname, familyOf(opts));
  if (!hits) {
    // biome-ignore lint/suspicious/noExplicitAny: forwarding the caller's overload unchanged
    (originalLookup as any).call(
      dns,
      hostname,
      ...(typeof options === "function" ? [options] : [options, callback]),
    );
    return;
  }
  process.nextTick(() => {
    if (wantsAll(opts)) cb(null, hits);
    else cb(null, hits[0]!.address, hits[0]!.family);
  });
}

async function patchedPromisesLookup(hostname: string, options?: unknown): Promise<unknown> {
  const hits = lookupHosts(hostname, familyOf(options));
  // biome-ignore lint/suspicious/noExplicitAny: forwarding the caller's overload unchanged
  if (!hits) return (originalPromisesLookup as any).call(dnsPromises, hostname, options);
  return wantsAll(options) ? hits : hits[0];
}

if (!(dns.lookup as { meridianHosts?: boolean }).meridianHosts) {
  Object.assign(patchedLookup, { meridianHosts: true });
  // biome-ignore lint/suspicious/noExplicitAny: replacing a builtin's export
  (dns as any).lookup = patchedLookup;
  // biome-ignore lint/suspicious/noExplicitAny: replacing a builtin's export
  (dnsPromises as any).lookup = patchedPromisesLookup;
  // biome-ignore lint/suspicious/noExplicitAny: dns.promises is the same object on Node 24, patch both anyway
  if (dns.promises !== dnsPromises) (dns.promises as any).lookup = patchedPromisesLookup;
  syncBuiltinESMExports();
}
