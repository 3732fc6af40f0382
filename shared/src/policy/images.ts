// Which images the customer's local policy allows. One implementation for the agent (workspace-agent
// image), the workspace agent (Flink images) and, by test, the chart's own template check: images are
// normalised as a container runtime resolves them (`flink:2.3` is `docker.io/library/flink:2.3`) and an
// entry matches only on a path boundary, so `docker.io.evil.example` never passes as `docker.io`.

/** `registry/repository` of an image reference, without tag or digest, with Docker Hub's implicit parts. */
export function imageRepository(image: string): string {
  const ref = image.trim().replace(/@sha256:[0-9a-f]+$/i, "");
  const parts = ref.split("/");
  const first = parts[0] ?? "";
  const hasRegistry =
    parts.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost");
  const registry = !hasRegistry || first === "index.docker.io" ? "docker.io" : first;
  let path = (hasRegistry ? parts.slice(1) : parts).join("/").replace(/:[^/:]+$/, "");
  if (registry === "docker.io" && !path.includes("/")) path = `library/${path}`;
  return `${registry}/${path}`;
}

/**
 * An image is allowed when its repository equals an entry or lies under it at a `/` boundary
 * (`ghcr.io/meridian-dev` allows `ghcr.io/meridian-dev/x`, not `ghcr.io/meridian-dev-evil/x`).
 * Docker Hub short entries are normalised (`flink` → `docker.io/library/flink`). An empty list or
 * `*` allows any registry — the same rules as the chart and the workspace agent apply.
 */
export function checkImage(
  image: string,
  allowed: readonly string[],
): { allowed: true } | { allowed: false; repository: string } {
  if (allowed.length === 0 || allowed.includes("*")) return { allowed: true };
  const repo = imageRepository(image);
  for (const entry of allowed) {
    const e = normaliseEntry(entry.trim().replace(/\/+$/, ""));
    if (e && (repo === e || repo.startsWith(`${e}/`))) return { allowed: true };
  }
  return { allowed: false, repository: repo };
}

export function normaliseEntry(e: string): string {
  if (!e) return e;
  const first = e.split("/")[0] ?? "";
  if (first.includes(".") || first.includes(":") || first === "localhost") return e;
  return e.includes("/") ? `docker.io/${e}` : `docker.io/library/${e}`;
}
