// What the protocol schema cannot refuse in a pod template alone: clashes with what Meridian adds to
// the Flink pods (its volumes, mount paths and environment variables), mounts of volumes that do not
// exist, sidecar images from registries outside the policy, and init containers or sidecars where the
// local policy forbids them (MERIDIAN_FLINK_POD_TEMPLATE_ALLOW_INIT_CONTAINERS / _ALLOW_SIDECARS).
import type { DeploymentSpec } from "@meridian/shared/protocol/index";
import { FLINK_MAIN_CONTAINER, type PodTemplate } from "@meridian/shared/protocol/pod-template";
import { checkImage } from "./image-policy.ts";

/** The field at fault (from the spec's root) and why; the shape of spec-policy.ts's SpecRefusal. */
export interface SpecRefusal {
  field: string;
  message: string;
}

export interface PodTemplateRules {
  allowInitContainers: boolean;
  allowSidecars: boolean;
  /** Registries of Flink images; sidecar and init container images follow the same rule. */
  allowedRegistries: readonly string[];
}

/** What Meridian puts into every Flink pod; a template may not name these again. */
export interface OwnedPodParts {
  volumes: readonly string[];
  mountPaths: readonly string[];
  env: readonly string[];
}

const TEMPLATES = [
  ["podTemplate", (s: DeploymentSpec) => s.podTemplate],
  ["jobManager.podTemplate", (s: DeploymentSpec) => s.jobManager.podTemplate],
  ["taskManager.podTemplate", (s: DeploymentSpec) => s.taskManager.podTemplate],
] as const;

/** Why the pod templates of `spec` may not be applied, or undefined. */
export function refusePodTemplates(
  spec: DeploymentSpec,
  rules: PodTemplateRules,
  owned: OwnedPodParts,
): SpecRefusal | undefined {
  for (const [field, get] of TEMPLATES) {
    const t = get(spec);
    const r = t && refuseOne(t, rules, owned);
    if (r) return { field: `${field}.${r.field}`, message: r.message };
  }
  return undefined;
}

function refuseOne(t: PodTemplate, rules: PodTemplateRules, owned: OwnedPodParts): SpecRefusal | undefined {
  const spec = t.spec ?? {};
  const volumes = new Set([...owned.volumes, ...(spec.volumes ?? []).map((v) => v.name)]);
  for (const [i, v] of (spec.volumes ?? []).entries())
    if (owned.volumes.includes(v.name))
      return {
        field: `spec.volumes[${i}].name`,
        message: `volume name "${v.name}" is owned by Meridian; pick another`,
      };
  const groups = [
    ["containers", spec.containers ?? []],
    ["initContainers", spec.initContainers ?? []],
  ] as const;
  for (const [list, containers] of groups)
    for (const [i, c] of containers.entries()) {
      const at = `spec.${list}[${i}]`;
      const isMain = list === "containers" && c.name === FLINK_MAIN_CONTAINER;
      if (list === "initContainers" && !rules.allowInitContainers)
        return {
          field: at,
          message: "init containers are not allowed by the local policy (podTemplates.allowInitContainers)",
        };
      if (list === "containers" && !isMain && !rules.allowSidecars)
        return {
          field: at,
          message: `sidecar "${c.name}" is not allowed by the local policy (podTemplates.allowSidecars)`,
        };
      if (!isMain && (c.name === "jobmanager" || c.name === "taskmanager"))
        return {
          field: `${at}.name`,
          message: `container name "${c.name}" is owned by Meridian; pick another`,
        };
      if (c.image !== undefined) {
        const image = checkImage(c.image, rules.allowedRegistries);
        if (!image.allowed) return { field: `${at}.image`, message: image.reason };
      }
      for (const [j, m] of (c.volumeMounts ?? []).entries()) {
        if (!volumes.has(m.name))
          return {
            field: `${at}.volumeMounts[${j}].name`,
            message: `mounts volume "${m.name}", which the template does not define`,
          };
        if (isMain && owned.mountPaths.some((p) => m.mountPath === p || m.mountPath.startsWith(`${p}/`)))
          return {
            field: `${at}.volumeMounts[${j}].mountPath`,
            message: `${m.mountPath} is owned by Meridian (${owned.mountPaths.join(", ")} hold Flink's configuration, logs, plugins and temporary files)`,
          };
      }
      if (isMain)
        for (const [j, e] of (c.env ?? []).entries())
          if (owned.env.includes(e.name))
            return {
              field: `${at}.env[${j}].name`,
              message: `environment variable ${e.name} is owned by Meridian`,
            };
    }
  return undefined;
}
