// Pod volumes written into the pod's directory: configMap, secret, emptyDir,
// projected (configMap, secret, serviceAccountToken, downwardAPI), downwardAPI,
// hostPath (the host path itself) and persistentVolumeClaim (a directory per claim
// that outlives the pod). `sync()` is idempotent: it rewrites changed files and
// removes files whose keys disappeared, so calling it every few seconds keeps
// mounted ConfigMaps, Secrets and tokens current, like the kubelet's resync.
import { mkdir, readFile, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { V1Container, V1KeyToPath, V1Pod, V1Volume } from "@kubernetes/client-node";
import { fieldValue } from "./env.ts";
import { writeFileAtomic } from "./service-account.ts";

export interface VolumeSources {
  /** ConfigMap data plus binaryData, undefined when the ConfigMap does not exist. */
  configMap(namespace: string, name: string): Promise<Record<string, Buffer> | undefined>;
  secret(namespace: string, name: string): Promise<Record<string, Buffer> | undefined>;
  token(audience: string | undefined, expirationSeconds: number): Promise<string>;
  /** Root for persistentVolumeClaim directories (shared by pods using the same claim). */
  claimsDir: string;
}

type Files = Map<string, { content: Buffer; mode: number }>;

export class PodVolumes {
  readonly #pod: V1Pod;
  readonly #podDir: string;
  readonly #sources: VolumeSources;
  readonly #podIP: string;
  readonly #hostIP: string;
  /** Files written per volume at the last sync (relative paths). */
  readonly #written = new Map<string, Set<string>>();

  constructor(pod: V1Pod, podDir: string, sources: VolumeSources, podIP: string, hostIP: string) {
    this.#pod = pod;
    this.#podDir = podDir;
    this.#sources = sources;
    this.#podIP = podIP;
    this.#hostIP = hostIP;
  }

  /** Local directory backing a volume. */
  dirFor(volume: V1Volume): string {
    if (volume.hostPath) return volume.hostPath.path;
    if (volume.persistentVolumeClaim) {
      const ns = this.#pod.metadata?.namespace ?? "default";
      return join(this.#sources.claimsDir, ns, volume.persistentVolumeClaim.claimName);
    }
    return join(this.#podDir, "volumes", volume.name);
  }

  /** mountPath -> local path for one container (subPath mounts map to the sub path). */
  mountsFor(container: V1Container): Record<string, string> {
    const out: Record<string, string> = {};
    for (const m of container.volumeMounts ?? []) {
      const vol = this.#pod.spec?.volumes?.find((v) => v.name === m.name);
      if (!vol) continue;
      const dir = this.dirFor(vol);
      out[m.mountPath] = m.subPath ? join(dir, m.subPath) : dir;
    }
    return out;
  }

  /** Writes every volume. Throws (with a kubelet-like message) when a required source is missing. */
  async sync(): Promise<void> {
    for (const vol of this.#pod.spec?.volumes ?? []) {
      const dir = this.dirFor(vol);
      await mkdir(dir, { recursive: true });
      const files = await this.#desiredFiles(vol);
      if (files) await this.#writeFiles(vol.name, dir, files);
    }
  }

  async #desiredFiles(vol: V1Volume): Promise<Files | undefined> {
    const ns = this.#pod.metadata?.namespace ?? "default";
    const files: Files = new Map();
    if (vol.configMap) {
      const data = await this.#sources.configMap(ns, vol.configMap.name ?? "");
      if (!data && !vol.configMap.optional) throw new Error(`configmap "${vol.configMap.name}" not found`);
      addKeys(
        files,
        data ?? {},
        vol.configMap.items,
        vol.configMap.defaultMode ?? 0o644,
        `ConfigMap ${vol.configMap.name}`,
      );
      return files;
    }
    if (vol.secret) {
      const data = await this.#sources.secret(ns, vol.secret.secretName ?? "");
      if (!data && !vol.secret.optional) throw new Error(`secret "${vol.secret.secretName}" not found`);
      addKeys(
        files,
        data ?? {},
        vol.secret.items,
        vol.secret.defaultMode ?? 0o644,
        `Secret ${vol.secret.secretName}`,
      );
      return files;
    }
    if (vol.downwardAPI) {
      this.#addDownward(files, vol.downwardAPI.items ?? [], vol.downwardAPI.defaultMode ?? 0o644);
      return files;
    }
    if (vol.projected) {
      const mode = vol.projected.defaultMode ?? 0o644;
      for (const src of vol.projected.sources ?? []) {
        if (src.configMap) {
          const data = await this.#sources.configMap(ns, src.configMap.name ?? "");
          if (!data && !src.configMap.optional)
            throw new Error(`configmap "${src.configMap.name}" not found`);
          addKeys(files, data ?? {}, src.configMap.items, mode, `ConfigMap ${src.configMap.name}`);
        } else if (src.secret) {
          const data = await this.#sources.secret(ns, src.secret.name ?? "");
          if (!data && !src.secret.optional) throw new Error(`secret "${src.secret.name}" not found`);
          addKeys(files, data ?? {}, src.secret.items, mode, `Secret ${src.secret.name}`);
        } else if (src.serviceAccountToken) {
          const t = src.serviceAccountToken;
          const token = await this.#sources.token(t.audience || undefined, t.expirationSeconds ?? 3600);
          files.set(t.path, { content: Buffer.from(token), mode: 0o600 });
        } else if (src.downwardAPI) {
          this.#addDownward(files, src.downwardAPI.items ?? [], mode);
        }
      }
      return files;
    }
    // emptyDir, hostPath, persistentVolumeClaim: a directory, nothing to write.
    return undefined;
  }

  #addDownward(
    files: Files,
    items: { path: string; fieldRef?: { fieldPath: string }; mode?: number }[],
    mode: number,
  ): void {
    for (const item of items) {
      if (!item.fieldRef) continue;
      const value = fieldValue(this.#pod, item.fieldRef, this.#podIP, this.#hostIP) ?? "";
      files.set(item.path, { content: Buffer.from(value), mode: item.mode ?? mode });
    }
  }

  async #writeFiles(volName: string, dir: string, files: Files): Promise<void> {
    const previous = this.#written.get(volName) ?? new Set<string>();
    for (const [rel, { content, mode }] of files) {
      const path = join(dir, rel);
      const current = await readFile(path).catch(() => undefined);
      if (current?.equals(content)) continue;
      await mkdir(dirname(path), { recursive: true });
      await writeFileAtomic(path, content, mode);
    }
    for (const rel of previous) {
      if (!files.has(rel)) await rm(join(dir, rel), { force: true });
    }
    this.#written.set(volName, new Set(files.keys()));
  }
}

function addKeys(
  files: Files,
  data: Record<string, Buffer>,
  items: V1KeyToPath[] | undefined,
  mode: number,
  what: string,
): void {
  if (!items?.length) {
    for (const [k, v] of Object.entries(data)) files.set(k, { content: v, mode });
    return;
  }
  for (const item of items) {
    const value = data[item.key];
    if (value === undefined) {
      if (Object.keys(data).length === 0) continue; // optional source that does not exist
      throw new Error(`couldn't find key ${item.key} in ${what}`);
    }
    files.set(item.path, { content: value, mode: item.mode ?? mode });
  }
}
