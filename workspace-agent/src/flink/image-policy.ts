// Which Flink images the local policy allows: MERIDIAN_FLINK_ALLOWED_REGISTRIES lists registries or
// registry/repository prefixes. Images are normalised the way a container runtime resolves them
// (`flink:2.3` is `docker.io/library/flink:2.3`) and an entry matches only on a path boundary, so
// `docker.io` allows `flink:2.3` but `docker.io.evil.example` does not pass as `docker.io`.

/** `registry/repository` of an image reference, without tag or digest, registry defaulted. */
export function imageRepository(image: string): string {
  const ref = image.trim().replace(/@sha256:[0-9a-f]+$/i, "");
  const parts = ref.split("/");
  const first = parts[0] ?? "";
  const hasRegistry =
    parts.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost");
  const registry = hasRegistry ? first : "docker.io";
  let path = (hasRegistry ? parts.slice(1) : parts).join("/");
  path = path.replace(/:[^/:]+$/, "");
  if (registry === "docker.io" && !path.includes("/")) path = `library/${path}`;
  const reg = registry === "index.docker.io" ? "docker.io" : registry;
  return `${reg}/${path}`;
}

/**
 * An allow-list entry as a repository prefix: a registry host (`ghcr.io`, `localhost:5000`) or
 * `host/path` stays; Docker Hub short names gain their implicit prefix (`flink` is
 * `docker.io/library/flink`, `apache/flink` is `docker.io/apache/flink`), as the chart does.
 */
export function normaliseEntry(e: string): string {
  const first = e.split("/")[0] ?? "";
  if (first.includes(".") || first.includes(":") || first === "localhost") return e;
  return e.includes("/") ? `docker.io/${e}` : `docker.io/library/${e}`;
}

export type ImageCheck = { allowed: true } | { allowed: false; reason: string };

/** An empty list means no restriction (the agent always passes its policy's list). */
export function checkImage(image: string, allowed: readonly string[]): ImageCheck {
  if (allowed.length === 0 || allowed.includes("*")) return { allowed: true };
  const repo = imageRepository(image);
  for (const entry of allowed) {
    const e = entry.trim().replace(/\/+$/, "");
    if (!e) continue;
    const norm = normaliseEntry(e);
    if (repo === norm || repo.startsWith(`${norm}/`)) return { allowed: true };
  }
  return {
    allowed: false,
    reason: `image ${JSON.stringify(image)} (${repo}) is not from an allowed registry (${allowed.join(", ")}); use an image from one of them or ask the cluster admin to extend allowedRegistries.flink in the local policy`,
  };
}
