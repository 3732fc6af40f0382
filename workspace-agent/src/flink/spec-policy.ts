// The local policy's rules for one Flink deployment spec, checked before anything is applied for it:
// its image must come from an allowed registry (MERIDIAN_FLINK_ALLOWED_REGISTRIES) and its job jar
// from an allowed location (MERIDIAN_FLINK_ALLOWED_JAR_URIS: local:// paths inside the image always,
// remote locations only under a policy entry; shared/src/policy/jar-uris.ts), and its state must stay
// in the workspace's storage without credentials in its configuration (storage.ts), and its pod
// templates may add nothing Meridian owns nor what the policy forbids (pod-template-policy.ts). The first rule
// broken is what is reported upward, with the field it concerns.
import { checkJarUri } from "@meridian/shared/policy/jar-uris";
import type { DeploymentSpec } from "@meridian/shared/protocol/index";
import type { PodTemplate } from "@meridian/shared/protocol/pod-template";
import { checkImage } from "./image-policy.ts";
import { ownedPodParts } from "./objects.ts";
import { refusePodTemplates } from "./pod-template-policy.ts";
import { type FlinkStorage, refuseStorage } from "./storage.ts";

export interface SpecPolicy {
  /** Registries (or registry/repository prefixes) of Flink images; empty = any. */
  allowedRegistries: readonly string[];
  /** Remote jar locations (`s3://bucket/prefix`); empty = only `local://` paths inside the image. */
  allowedJarURIs: readonly string[];
  /** The workspace's storage (MERIDIAN_STORAGE_*); undefined: none. */
  storage?: FlinkStorage | undefined;
  /** The policy's podTemplates rules; undefined: init containers and sidecars are allowed. */
  podTemplates?: { allowInitContainers: boolean; allowSidecars: boolean } | undefined;
  /** The workspace's default pod template, checked on its own by the same rules. */
  workspacePodTemplate?: PodTemplate | undefined;
}

export interface SpecRefusal {
  /** The spec field at fault, e.g. `image` or `job.jarURI`. */
  field: string;
  message: string;
}

/** Why the local policy refuses `spec`, or undefined when it may be applied. */
export function refuseSpec(spec: DeploymentSpec, policy: SpecPolicy): SpecRefusal | undefined {
  const image = checkImage(spec.image, policy.allowedRegistries);
  if (!image.allowed) return { field: "image", message: image.reason };
  const jar = checkJarUri(spec.job.jarURI, policy.allowedJarURIs);
  if (!jar.allowed) return { field: "job.jarURI", message: jar.reason };
  const rules = {
    allowInitContainers: policy.podTemplates?.allowInitContainers ?? true,
    allowSidecars: policy.podTemplates?.allowSidecars ?? true,
    allowedRegistries: policy.allowedRegistries,
  };
  const owned = ownedPodParts(spec, policy.storage);
  const workspace = policy.workspacePodTemplate;
  if (workspace) {
    // The workspace's default alone, as if it were the deployment's podTemplate; named as its own.
    const alone = { ...spec, podTemplate: workspace, jobManager: { resources: spec.jobManager.resources } };
    const r = refusePodTemplates(
      { ...alone, taskManager: { ...spec.taskManager, podTemplate: undefined } },
      rules,
      owned,
    );
    if (r)
      return { field: r.field.replace(/^podTemplate/, "workspace.flinkPodTemplate"), message: r.message };
  }
  return refusePodTemplates(spec, rules, owned) ?? refuseStorage(spec, policy.storage);
}
